// JPEG and PNG through libjpeg-turbo and libpng directly. Both report errors by longjmp, so
// this file is C: no C++ object lives in a frame a longjmp may skip.
#include "codec.h"
#include "CTulgaVision.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

static int32_t fail(char *message, size_t capacity, int32_t status, const char *format, ...) {
    if (message && capacity) {
        va_list args;
        va_start(args, format);
        vsnprintf(message, capacity, format, args);
        va_end(args);
    }
    return status;
}

// JPEG ------------------------------------------------------------------------

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int premature_end; // libjpeg warned that the data ended before the image did
    char text[JMSG_LENGTH_MAX];
} jpeg_errors;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->text);
    longjmp(e->jump, 1);
}

// Warnings (level -1) are recorded; trace messages are dropped. Nothing is printed.
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    if (level >= 0) return;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) e->premature_end = 1;
    cinfo->err->num_warnings++;
}

static void jpeg_set_errors(jpeg_errors *e) {
    jpeg_std_error(&e->base);
    e->base.error_exit = jpeg_on_error;
    e->base.emit_message = jpeg_on_message;
    e->premature_end = 0;
    e->text[0] = 0;
}

// Adobe CMYK/YCCK JPEGs store inverted ink; libjpeg hands out CMYK, converted here to BGR.
static void cmyk_row_to_bgr(const uint8_t *cmyk, uint8_t *bgr, JDIMENSION width, int inverted) {
    for (JDIMENSION x = 0; x < width; x++) {
        int c = cmyk[4 * x], m = cmyk[4 * x + 1], y = cmyk[4 * x + 2], k = cmyk[4 * x + 3];
        if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        bgr[3 * x] = (uint8_t)(y * k / 255);
        bgr[3 * x + 1] = (uint8_t)(m * k / 255);
        bgr[3 * x + 2] = (uint8_t)(c * k / 255);
    }
}

int32_t tvc_jpeg_decode(const uint8_t *bytes, size_t length, int32_t divisor, tvc_allocate allocate, void *context,
                        char *message, size_t capacity) {
    struct jpeg_decompress_struct cinfo;
    jpeg_errors errors;
    uint8_t *volatile cmyk = NULL;
    cinfo.err = &errors.base;
    jpeg_set_errors(&errors);
    if (setjmp(errors.jump)) {
        free(cmyk);
        jpeg_destroy_decompress(&cinfo);
        return fail(message, capacity, TV_ERR_DECODE, "JPEG: the codec could not decode the data (%zu bytes): %s", length,
                    errors.text);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)length);
    jpeg_read_header(&cinfo, TRUE);
    int ink = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = ink ? JCS_CMYK : JCS_EXT_BGR;
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned int)(divisor == 2 || divisor == 4 || divisor == 8 ? divisor : 1);
    jpeg_start_decompress(&cinfo);
    JDIMENSION width = cinfo.output_width, height = cinfo.output_height;
    uint8_t *pixels = allocate(context, (int32_t)width, (int32_t)height);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return fail(message, capacity, TV_ERR_INTERNAL, "out of memory for a %ux%u image", width, height);
    }
    if (ink) {
        cmyk = malloc((size_t)width * 4);
        if (!cmyk) {
            jpeg_destroy_decompress(&cinfo);
            return fail(message, capacity, TV_ERR_INTERNAL, "out of memory");
        }
    }
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < height && !errors.premature_end) {
        uint8_t *row = pixels + (size_t)cinfo.output_scanline * width * 3;
        JSAMPROW target = ink ? (JSAMPROW)cmyk : row;
        jpeg_read_scanlines(&cinfo, &target, 1);
        if (ink) cmyk_row_to_bgr(cmyk, row, width, inverted);
    }
    if (!errors.premature_end) jpeg_finish_decompress(&cinfo);
    free(cmyk);
    int premature = errors.premature_end;
    jpeg_destroy_decompress(&cinfo);
    if (premature)
        return fail(message, capacity, TV_ERR_TRUNCATED, "JPEG: the file is truncated (the image data ends early, %zu bytes)", length);
    return TV_OK;
}

int32_t tvc_jpeg_encode(const uint8_t *bgr, int32_t width, int32_t height, size_t stride, int32_t quality, uint8_t **out,
                        size_t *length, char *message, size_t capacity) {
    struct jpeg_compress_struct cinfo;
    jpeg_errors errors;
    unsigned char *mem = NULL;  // jpeg_mem_dest's buffer, written through its address
    unsigned long size = 0;
    cinfo.err = &errors.base;
    jpeg_set_errors(&errors);
    if (setjmp(errors.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(mem);
        return fail(message, capacity, TV_ERR_INTERNAL, "JPEG encoding failed: %s", errors.text);
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &mem, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_EXT_BGR;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(bgr + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = mem;
    *length = size;
    return TV_OK;
}

// PNG -------------------------------------------------------------------------

typedef struct {
    const uint8_t *bytes;
    size_t length, offset;
    int truncated;       // a read went past the end of the data
    char text[256];
} png_source;

static void png_on_error(png_structp png, png_const_charp text) {
    png_source *s = (png_source *)png_get_error_ptr(png);
    snprintf(s->text, sizeof(s->text), "%s", text);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void png_read_memory(png_structp png, png_bytep data, size_t count) {
    png_source *s = (png_source *)png_get_io_ptr(png);
    if (count > s->length - s->offset) {
        s->truncated = 1;
        png_error(png, "the data ends early");
    }
    memcpy(data, s->bytes + s->offset, count);
    s->offset += count;
}

int32_t tvc_png_decode(const uint8_t *bytes, size_t length, tvc_allocate allocate, void *context, char *message,
                       size_t capacity) {
    png_source source = {bytes, length, 0, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_on_error, png_on_warning);
    if (!png) return fail(message, capacity, TV_ERR_INTERNAL, "out of memory");
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(message, capacity, TV_ERR_INTERNAL, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        if (source.truncated)
            return fail(message, capacity, TV_ERR_TRUNCATED, "PNG: the file is truncated (the data ends before IEND, %zu bytes)", length);
        return fail(message, capacity, TV_ERR_DECODE, "PNG: the codec could not decode the data (%zu bytes): %s", length, source.text);
    }
    png_set_read_fn(png, &source, png_read_memory);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int type = png_get_color_type(png, info);
    // Everything becomes 8-bit BGR: palette and low-depth grey expanded, 16 bits scaled, alpha dropped.
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_scale_16(png);
    // Palette expansion turns a tRNS chunk into an alpha channel: dropped like any other.
    if ((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_bgr(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * 3)
        png_error(png, "unexpected row layout after conversion");
    uint8_t *pixels = allocate(context, (int32_t)width, (int32_t)height);
    if (!pixels) png_error(png, "out of memory");
    rows = malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * width * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);  // reads up to IEND: a file cut before it ends as truncated
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return TV_OK;
}

typedef struct {
    uint8_t *data;
    size_t length, capacity;
} png_sink;

static void png_write_memory(png_structp png, png_bytep data, size_t count) {
    png_sink *s = (png_sink *)png_get_io_ptr(png);
    if (count > s->capacity - s->length) {
        size_t grown = s->capacity ? s->capacity * 2 : 65536;
        while (grown - s->length < count) grown *= 2;
        uint8_t *p = realloc(s->data, grown);
        if (!p) png_error(png, "out of memory");
        s->data = p;
        s->capacity = grown;
    }
    memcpy(s->data + s->length, data, count);
    s->length += count;
}

static void png_flush_memory(png_structp png) { (void)png; }

int32_t tvc_png_encode(const uint8_t *bgr, int32_t width, int32_t height, size_t stride, int32_t bit_depth, int32_t alpha,
                       uint8_t **out, size_t *length, char *message, size_t capacity) {
    png_source errors = {NULL, 0, 0, 0, {0}};
    png_sink sink = {NULL, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, png_on_error, png_on_warning);
    if (!png) return fail(message, capacity, TV_ERR_INTERNAL, "out of memory");
    png_infop info = png_create_info_struct(png);
    int channels = alpha ? 4 : 3, bytes_per = bit_depth == 16 ? 2 : 1;
    uint8_t *volatile row = malloc((size_t)width * (size_t)channels * (size_t)bytes_per);
    if (!info || !row) {
        free(row);
        png_destroy_write_struct(&png, info ? &info : NULL);
        return fail(message, capacity, TV_ERR_INTERNAL, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        free(row);
        free(sink.data);
        png_destroy_write_struct(&png, &info);
        return fail(message, capacity, TV_ERR_INTERNAL, "PNG encoding failed: %s", errors.text);
    }
    png_set_write_fn(png, &sink, png_write_memory, png_flush_memory);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 1);
    png_write_info(png, info);
    for (int32_t y = 0; y < height; y++) {
        const uint8_t *src = bgr + (size_t)y * stride;
        uint8_t *dst = row;
        for (int32_t x = 0; x < width; x++) {
            uint8_t rgba[4] = {src[3 * x + 2], src[3 * x + 1], src[3 * x], 255};
            for (int c = 0; c < channels; c++) {
                *dst++ = rgba[c];  // 16 bits: v * 257, big-endian, is the byte twice
                if (bytes_per == 2) *dst++ = rgba[c];
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    free(row);
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *length = sink.length;
    return TV_OK;
}
