// JPEG (libjpeg-turbo) and PNG (libpng) in plain C: their setjmp/longjmp error handling
// never crosses a C++ frame. Private to CTulgaVision; vision.cpp wraps the pixels in cv::Mat.
#ifndef CTULGAVISION_CODEC_H
#define CTULGAVISION_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Gives the destination for width x height packed 8-bit BGR pixels (stride width*3),
/// or NULL when it cannot (the decoder then fails with TV_ERR_INTERNAL).
typedef uint8_t *(*tvc_allocate)(void *context, int32_t width, int32_t height);

/// Decodes a JPEG to BGR at 1/divisor scale (1, 2, 4 or 8: libjpeg DCT scaling). Returns a tv_status;
/// a JPEG whose data ends early (libjpeg's premature-end warning) is TV_ERR_TRUNCATED.
int32_t tvc_jpeg_decode(const uint8_t *bytes, size_t length, int32_t divisor, tvc_allocate allocate, void *context,
                        char *message, size_t capacity);

/// Decodes a PNG (1-16 bits, grey, colour, palette, with or without alpha; alpha dropped, 16 bits
/// scaled to 8) to BGR. The IEND chunk is required: data that ends before it is TV_ERR_TRUNCATED.
int32_t tvc_png_decode(const uint8_t *bytes, size_t length, tvc_allocate allocate, void *context, char *message,
                       size_t capacity);

/// Encodes packed BGR rows (stride bytes apart) as a baseline JPEG; *out is malloc'd.
int32_t tvc_jpeg_encode(const uint8_t *bgr, int32_t width, int32_t height, size_t stride, int32_t quality, uint8_t **out,
                        size_t *length, char *message, size_t capacity);

/// Encodes packed BGR rows as an RGB or RGBA (opaque) PNG of 8 or 16 bits per channel; *out is malloc'd.
int32_t tvc_png_encode(const uint8_t *bgr, int32_t width, int32_t height, size_t stride, int32_t bit_depth, int32_t alpha,
                       uint8_t **out, size_t *length, char *message, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
