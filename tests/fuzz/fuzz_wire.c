/*
 * tests/fuzz/fuzz_wire.c
 *		libFuzzer harness for the wire readers: any bytes as a frame.
 *
 * Every message goes through its reader and the renderer (text, and JSON
 * with every field), which between them call every proto_read_* and value
 * converter.  Built with ASan and UBSan: an out-of-bounds read, a leak or
 * undefined behaviour is a crash.
 */
#include <stddef.h>
#include <stdint.h>

#include "tide/render.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int flags[] = {0, PROTO_RENDER_JSON | PROTO_RENDER_ALL};

	for (int i = 0; i < 2; i++)
	{
		proto_render_t r;
		proto_wbuf_t out;

		proto_render_init(&r, NULL, flags[i]);
		proto_wbuf_init_heap(&out);
		(void) proto_render_frame(&r, data, size, &out);
		proto_wbuf_free(&out);
		proto_render_free(&r);
	}
	return 0;
}
