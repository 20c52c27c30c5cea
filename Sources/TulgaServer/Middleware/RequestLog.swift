import Hummingbird
import Logging

/// One structured line per request: method, route pattern (never the raw path: application
/// numbers are bearer secrets), status, milliseconds; at debug level also a line when one starts.
/// Bodies and headers are never logged.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        context.logger.debug("request started", metadata: ["method": "\(request.method.rawValue)", "route": "\(context.endpointPath ?? "unmatched")"])
        func log(_ status: Int) {
            let elapsed = (ContinuousClock.now - start).components
            context.logger.info("request", metadata: [
                "method": "\(request.method.rawValue)", "route": "\(context.endpointPath ?? "unmatched")", "status": "\(status)",
                "ms": "\(elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000)",
            ])
        }
        do {
            let response = try await next(request, context)
            log(response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            log(error.status.code)
            throw error
        }
    }
}
