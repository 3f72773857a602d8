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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide.h"
#include "tide/render.h"
#include "tide/segment.h"

static void
inspect_usage(FILE *f)
{
	fprintf(f, "Usage: tide inspect [--json] [--verbose] FILE\n\n"
			"Print the messages of a segment file, or of a raw tide stream (e.g.\n"
			"pg_recvlogical -f output of a slot using the tide plugin), one line\n"
			"each.  Damage is reported with the byte offset (exit code 5).\n\n"
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

/*
 * inspect_segment - every message of every block, verified block by block.
 * A torn tail of an open segment ends the listing with a note, not an
 * error; any other damage is an error naming the block's offset.
 */
static int
inspect_segment(const char *path, int flags)
{
	seg_reader_t sr;
	proto_render_t r;
	proto_wbuf_t out;
	uint64_t	at = 0;
	int			rc;
	bool		partial = strstr(path, SEG_PARTIAL_SUFFIX) != NULL;

	if ((rc = seg_reader_open(&sr, path, &at)) != 0)
	{
		tide_log_error("could not read segment \"%s\" at byte offset %llu: %s",
					   path, (unsigned long long) at, tide_strerror(rc));
		seg_reader_close(&sr);
		return rc <= TIDE__EBASE ? TIDE_EXIT_CORRUPT : TIDE_EXIT_IO;
	}
	if (flags & PROTO_RENDER_IDS)
	{
		seg_header_t *h = &sr.header;

		printf("%sSEGMENT version=%u system_id=%llu timeline=%u db=%.*s slot=%.*s "
			   "bucket_seconds=%u start_lsn=%X/%X%s\n",
			   (flags & PROTO_RENDER_JSON) ? "# " : "", h->version,
			   (unsigned long long) h->system_id, h->timeline, (int) h->dbname.n,
			   h->dbname.p, (int) h->slot.n, h->slot.p, h->bucket_seconds,
			   (unsigned) (h->start_lsn >> 32), (unsigned) h->start_lsn,
			   sr.closed ? " closed" : " open");
	}
	proto_render_init(&r, NULL, flags);
	proto_wbuf_init_heap(&out);
	while ((rc = seg_reader_next(&sr)) == 0)
	{
		proto_wbuf_reset(&out);
		if ((rc = proto_render_frame(&r, sr.raw.data, sr.raw.len, &out)) != 0)
			break;
		fwrite(out.data, 1, out.len, stdout);
	}
	if (rc == TIDE_ETRUNCATED && partial)
	{
		fprintf(stderr, "tide: note: open segment \"%s\" ends with an unfinished block at byte offset %llu\n",
				path, (unsigned long long) sr.block_offset);
		rc = TIDE_EEOF;
	}
	if (rc != TIDE_EEOF)
		tide_log_error("segment \"%s\" is damaged at byte offset %llu: %s",
					   path, (unsigned long long) sr.block_offset, tide_strerror(rc));
	proto_wbuf_free(&out);
	proto_render_free(&r);
	seg_reader_close(&sr);
	return rc == TIDE_EEOF ? TIDE_EXIT_OK : TIDE_EXIT_CORRUPT;
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
	{
		FILE	   *f = strcmp(argv[optind], "-") ? fopen(argv[optind], "rb") : NULL;
		char		magic[SEG_FILE_MAGIC_LEN];
		bool		is_segment = f && fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
			memcmp(magic, SEG_FILE_MAGIC, SEG_FILE_MAGIC_LEN) == 0;

		if (f)
			fclose(f);
		if (is_segment)
			return inspect_segment(argv[optind], flags);
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
