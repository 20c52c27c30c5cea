// CTulgaDocument: a plain C face of the document reader (OpenCV for the page and the MRZ band,
// Tesseract's C API for the characters).
//
// Rules of this header:
// - Every function that can fail returns a td_status and fills a caller-owned td_error.
//   No C++ exception ever leaves the library.
// - Pixels go in as packed 8-bit BGR with explicit width and height, and are copied.
//   Buffers returned through uint8_t** are freed with td_buffer_free.
// - Thread model: a td_ocr is used by one thread at a time (Tesseract keeps per-instance
//   state). td_find_document and td_find_mrz hold no state and may run on any thread.
#ifndef CTULGADOCUMENT_H
#define CTULGADOCUMENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TD_OK = 0,
    TD_ERR_NO_DOCUMENT = 1,      // no card- or page-shaped quadrilateral in the photo
    TD_ERR_NO_MRZ = 2,           // no band of 2 or 3 long text lines at the bottom of the document
    TD_ERR_UNREADABLE = 6,       // the band is there, but its lines do not split into fixed-pitch cells
    TD_ERR_OCR_UNAVAILABLE = 3,  // Tesseract or its English data cannot be loaded
    TD_ERR_INVALID_ARGUMENT = 4,
    TD_ERR_INTERNAL = 5          // an OpenCV, Tesseract or C++ exception, caught
} td_status;

typedef struct { char message[512]; } td_error;

/// Corners in photo pixels: top-left, top-right, bottom-right, bottom-left (x0, y0, x1, y1, ...).
typedef struct { float xy[8]; } td_quad;

/// A box in the rectified document's pixels.
typedef struct { int32_t x, y, width, height; } td_box;

typedef struct td_ocr td_ocr;

void td_buffer_free(uint8_t *buffer);

/// Finds the largest card- or page-shaped quadrilateral (in the mask of colours far from the
/// photo's border, else the lighter part, else edges) and warps it flat, long side horizontal,
/// to out_width pixels wide (0: 1000 for a card's aspect, 1500 for a page's) at its own aspect.
/// *rectified receives width x height x 3 BGR bytes (caller frees with td_buffer_free).
td_status td_find_document(const uint8_t *bgr, int32_t width, int32_t height, int32_t out_width, td_quad *quad,
                           uint8_t **rectified, int32_t *out_w, int32_t *out_h, td_error *error);

/// Rotates packed BGR by 180 degrees in place (a document photographed upside down).
void td_rotate_180(uint8_t *bgr, int32_t width, int32_t height);

/// Finds the MRZ band in a rectified document (black-hat morphology, horizontal gradient,
/// closing, contours): the widest band of text lines in the lower half. *lines gets 2 or 3
/// from the band's row profile.
td_status td_find_mrz(const uint8_t *bgr, int32_t width, int32_t height, td_box *band, int32_t *lines, td_error *error);

/// Loads Tesseract's English data from tessdata (NULL: the compiled-in path), restricted to
/// A-Z 0-9 <, dictionaries off.
td_status td_ocr_create(const char *tessdata, td_ocr **out, td_error *error);
void td_ocr_free(td_ocr *ocr);

/// Reads the band: binarised (black-hat, Otsu), split into `lines` text lines, each read as one
/// line; every glyph is placed in its fixed-pitch cell (line_length cells between the line's
/// first and last glyph). Fillers are told by their chevron shape; the rest is read by Tesseract,
/// a cell it misses by Tesseract on that cell alone, '?' if still unread. text receives the lines
/// joined by '\n'; second (may be NULL) a second reading of the same cells from the grey strokes,
/// so a caller can tell uncertain characters. Both NUL-terminated, at most capacity bytes each.
td_status td_ocr_read_mrz(td_ocr *ocr, const uint8_t *bgr, int32_t width, int32_t height, const td_box *band,
                          int32_t lines, int32_t line_length, char *text, char *second, size_t capacity, td_error *error);

#ifdef __cplusplus
}
#endif

#endif
