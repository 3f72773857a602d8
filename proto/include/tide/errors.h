/*
 * proto/include/tide/errors.h
 *		Error codes shared by every part of tide.
 *
 * Functions return int: 0 on success or a negative code.  System errors come
 * back as -errno; tide's own codes live below TIDE__EBASE so they never
 * collide with errno values.  Published values never change: append new
 * codes at the end of the list.
 */
#ifndef TIDE_ERRORS_H
#define TIDE_ERRORS_H

#define TIDE__EBASE (-10000)

/* XX(name, offset, message) */
#define TIDE_ERRNO_MAP(XX)                                                     \
	XX(TRUNCATED, 1, "input ends in the middle of an item")                   \
	XX(BADTYPE, 2, "unknown message or record type")                          \
	XX(BADVARINT, 3, "malformed variable-length integer")                     \
	XX(TOOLONG, 4, "length exceeds the limit or the remaining input")         \
	XX(BADVERSION, 5, "unsupported format version")                           \
	XX(BADVALUE, 6, "field holds a value outside its allowed range")          \
	XX(TRAILING, 7, "unexpected bytes after the end of an item")              \
	XX(NOMEM, 8, "out of memory")                                             \
	XX(NORELATION, 9, "row refers to a relation not described before")       \
	XX(NATTS, 10, "row column count differs from its relation")               \
	XX(CHECKSUM, 11, "checksum mismatch")                                     \
	XX(BADMAGIC, 12, "not a tide segment (bad magic)")                        \
	XX(COMPRESS, 13, "compression or decompression failed")                   \
	XX(NOSPACE, 14, "output buffer too small")                                \
	XX(BADSTATE, 15, "call out of sequence")                                  \
	XX(EOF, 16, "end of input")

typedef enum
{
#define TIDE__ERR_ENUM(name, off, msg) TIDE_E##name = TIDE__EBASE - (off),
	TIDE_ERRNO_MAP(TIDE__ERR_ENUM)
#undef TIDE__ERR_ENUM
	TIDE__ELAST
} tide_errno_t;

/*
 * tide_strerror - a static, human readable message for code (tide's own or
 * -errno).  tide_err_name - the symbolic name ("TIDE_ETRUNCATED", "ENOENT").
 * Both accept any int and never return NULL.
 */
const char *tide_strerror(int code);
const char *tide_err_name(int code);

#endif /* TIDE_ERRORS_H */
