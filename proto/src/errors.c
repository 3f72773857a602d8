/*
 * proto/src/errors.c
 *		Names and messages for tide's error codes.
 */
#include <string.h>

#include "tide/errors.h"

const char *
tide_strerror(int code)
{
	switch (code)
	{
		case 0:
			return "success";
#define TIDE__ERR_MSG(name, off, msg) case TIDE_E##name: return msg;
			TIDE_ERRNO_MAP(TIDE__ERR_MSG)
#undef TIDE__ERR_MSG
		default:
			break;
	}
	if (code < 0 && code > TIDE__EBASE)
		return strerror(-code);
	return "unknown error";
}

const char *
tide_err_name(int code)
{
	switch (code)
	{
		case 0:
			return "OK";
#define TIDE__ERR_NAME(name, off, msg) case TIDE_E##name: return "TIDE_E" #name;
			TIDE_ERRNO_MAP(TIDE__ERR_NAME)
#undef TIDE__ERR_NAME
		default:
			break;
	}
	/* strerrorname_np is glibc-only; the message is what people read. */
	if (code < 0 && code > TIDE__EBASE)
		return "ESYSTEM";
	return "EUNKNOWN";
}
