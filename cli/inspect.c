/*
 * cli/inspect.c
 *		`tide inspect`: print a change stream as text or JSON lines.
 *
 * Reads a file of frames (what the decoder emits) and renders every message
 * with proto's renderer.  pg_recvlogical writes a newline after each frame;
 * a newline is never a message type, so it is skipped between messages.
 * Segment files are read by the same command once the streamer writes them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide.h"
#include "tide/render.h"

static void
inspect_usage(FILE *f)
{
	fprintf(f, "Usage: tide inspect [--json] [--verbose] FILE\n\n"
			"Print the messages of a tide stream (e.g. pg_recvlogical -f output\n"
			"of a slot using the tide plugin), one line each.\n\n"
			"  --json      JSON lines instead of text\n"
			"  --verbose   show LSNs, transaction ids, commit times and OIDs\n");
}

/* read_file - the whole file into *data (caller frees); 0 or -errno */
static int
read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE	   *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	uint8_t    *buf = NULL;
	size_t		cap = 0;
	size_t		n = 0;

	if (f == NULL)
		return -errno;
	for (;;)
	{
		size_t		got;

		if (n == cap)
		{
			uint8_t    *p = realloc(buf, cap ? cap * 2 : 1 << 16);

			if (p == NULL)
			{
				free(buf);
				if (f != stdin)
					fclose(f);
				return -ENOMEM;
			}
			buf = p;
			cap = cap ? cap * 2 : 1 << 16;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
	{
		int			e = errno;

		free(buf);
		if (f != stdin)
			fclose(f);
		return -e;
	}
	if (f != stdin)
		fclose(f);
	*data = buf;
	*len = n;
	return 0;
}

int
tide_cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			flags = 0;
	int			c;
	uint8_t    *data = NULL;
	size_t		len = 0;
	size_t		pos = 0;
	proto_render_t r;
	proto_wbuf_t out;
	int			rc;

	while ((c = getopt_long(argc, argv, "jvh", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'j':
				flags |= PROTO_RENDER_JSON;
				break;
			case 'v':
				flags |= PROTO_RENDER_ALL;
				break;
			case 'h':
				inspect_usage(stdout);
				return TIDE_EXIT_OK;
			default:
				inspect_usage(stderr);
				return TIDE_EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
	{
		tide_log_error("inspect needs exactly one file");
		inspect_usage(stderr);
		return TIDE_EXIT_USAGE;
	}
	if ((rc = read_file(argv[optind], &data, &len)) != 0)
	{
		tide_log_error("could not read \"%s\": %s", argv[optind], tide_strerror(rc));
		return TIDE_EXIT_IO;
	}
	proto_render_init(&r, NULL, flags);
	proto_wbuf_init_heap(&out);
	rc = 0;
	while (pos < len)
	{
		proto_rbuf_t f;
		proto_rbuf_t body;
		uint8_t		type;

		if (data[pos] == '\n')
		{
			pos++;
			continue;
		}
		proto_rbuf_init(&f, data + pos, len - pos);
		if ((rc = proto_read_msg(&f, &type, &body)) != 0 ||
			(rc = proto_render_msg(&r, type, body, &out)) != 0)
			break;
		proto_put_u8(&out, '\n');
		if (out.err)
		{
			rc = out.err;
			break;
		}
		fwrite(out.data, 1, out.len, stdout);
		proto_wbuf_reset(&out);
		pos += f.pos;
	}
	if (rc != 0)
		tide_log_error("could not decode \"%s\" at byte offset %zu: %s",
					   argv[optind], pos, tide_strerror(rc));
	proto_wbuf_free(&out);
	proto_render_free(&r);
	free(data);
	return rc ? TIDE_EXIT_CORRUPT : TIDE_EXIT_OK;
}
