/* fuzz_lua.c - arbitrary bytes as packets through the whole core and the Lua
 * bridge, with a Lua handler on every event of the catalogue.
 *
 * The handlers read every field of their event (engine.events() lists them;
 * tables are walked) and every field of the flow (engine._flow_fields(), the
 * methods left out), so the bridge's event conversion and the flow getters of
 * lua/engine.lua run on fuzzed flows, not only the decoders. The proxies of
 * the last four ended flows are kept and read again in later events (a proxy
 * kept past flow.end answers from a copy); engine.tick walks engine.flows().
 *
 * Input layout: as fuzz_packets. Byte 0: (byte 0 & 0x3f) % 14 picks the link
 * type, bit 0 makes the wire length 7 bytes longer than the captured one,
 * bit 6 also loads the default scripts (scripts/default.lua: every log script
 * writes its records, through the worker-log callbacks into a counter, no file
 * is written), bit 7 tcp.overlap=last. Then records of
 *   [2 bytes length, big-endian][1 byte time step][length bytes of frame]
 * Limits are small (flow.max 8, reassembly 8 KiB) as in fuzz_packets;
 * lua.handler_timeout_ms is 0 (no watchdog thread per input).
 * Build: make fuzz; run: build/fuzz/fuzz_lua DIR. Needs ENGINE_HOME or the
 * binary inside the source tree (it finds lua/engine.lua from its path).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lua_bridge.h"

static const int links[] = {1 /* EN10MB */, 113 /* LINUX_SLL */, 276 /* LINUX_SLL2 */,
                            12 /* RAW */, 101 /* LINKTYPE_RAW */, 0 /* NULL */, 108 /* LOOP */,
                            228 /* IPV4 */, 229 /* IPV6 */, 129 /* ARCNET_LINUX */,
                            9 /* PPP */, 50 /* PPP_SERIAL */, 104 /* C_HDLC */, 239 /* NFLOG */};

static const char script[] =
    "local engine = require 'engine'\n"
    "local sink = 0\n"
    "local function touch(v, d)\n"
    "  local t = type(v)\n"
    "  if t == 'string' then sink = sink + #v + (v:byte(-1) or 0)\n"
    "  elseif t == 'number' then sink = sink + (v == v and 1 or 2)\n"
    "  elseif t == 'boolean' then sink = sink + (v and 1 or 0)\n"
    "  elseif t == 'table' and d < 8 then\n"
    "    for k, x in pairs(v) do touch(k, d + 1); touch(x, d + 1) end\n"
    "  end\n"
    "end\n"
    "local ff = {}\n"
    "for _, k in ipairs(engine._flow_fields()) do\n"
    "  if k ~= 'skip' and k ~= 'set_service' then ff[#ff + 1] = k end\n"
    "end\n"
    "local function read_flow(flow)\n"
    "  for i = 1, #ff do touch(flow[ff[i]], 0) end\n"
    "  touch(tostring(flow), 0)\n"
    "end\n"
    "local ended, nended = {}, 0\n"
    "for name, fields in pairs(engine.events()) do\n"
    "  engine.on(name, function(flow, ev)\n"
    "    for i = 1, #fields do touch(ev[fields[i]], 0) end\n"
    "    if flow then\n"
    "      read_flow(flow)\n"
    "      if name == 'flow.end' then\n"
    "        nended = nended + 1\n"
    "        ended[nended % 4 + 1] = flow\n"
    "      end\n"
    "    end\n"
    "    for _, p in pairs(ended) do read_flow(p) end\n"
    "    if name == 'engine.tick' then\n"
    "      for f in engine.flows() do read_flow(f) end\n"
    "    end\n"
    "  end)\n"
    "end\n";

static volatile size_t log_bytes;

static int log_write(void *user, const char *stream, size_t slen, const char *line, size_t len)
{
    (void)user;
    (void)stream;
    log_bytes += slen + len + (len ? (unsigned char)line[len - 1] : 0);
    return 0;
}

static int log_flush(void *user)
{
    (void)user;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    eng_t *e = eng_new();
    char err[512];
    eng_config_set(e, "flow.max", "8", err, sizeof err);
    eng_config_set(e, "tcp.max_ooo_bytes", "2048", err, sizeof err);
    eng_config_set(e, "tcp.max_total_bytes", "8192", err, sizeof err);
    eng_config_set(e, "ip.max_frag_bytes", "8192", err, sizeof err);
    eng_config_set(e, "lua.handler_timeout_ms", "0", err, sizeof err);
    eng_config_set(e, "tcp.overlap", (data[0] & 0x80) ? "last" : "first", err, sizeof err);
    lbr_worker_t w = {0, 1, log_write, log_flush, NULL};
    lbr_t *b = lbr_new_worker(e, NULL, NULL, &w, err, sizeof err);
    if (!b) {
        fprintf(stderr, "fuzz_lua: %s\n", err);
        abort();
    }
    if (lbr_load_string(b, script, "=fuzz_lua", err, sizeof err) ||
        ((data[0] & 0x40) && lbr_load_default(b, err, sizeof err))) {
        fprintf(stderr, "fuzz_lua: %s\n", err);
        abort();
    }
    eng_start(e);
    int link = links[(data[0] & 0x3f) % (sizeof links / sizeof links[0])];
    size_t pos = 1;
    int64_t ts = 1700000000LL * 1000000000LL;
    while (pos + 3 <= size) {
        size_t len = ((size_t)data[pos] << 8) | data[pos + 1];
        ts += (int64_t)data[pos + 2] * 250000000LL; /* up to ~64 s per step: timeouts happen */
        pos += 3;
        if (len > size - pos) len = size - pos;
        eng_feed(e, ts, link, data + pos, (uint32_t)len, (uint32_t)len + (data[0] & 1 ? 7 : 0));
        pos += len;
    }
    eng_finish(e);
    if (lbr_handler_errors(b) || lbr_failed(b)) {
        /* the handlers above read only what exists: an error is a bridge bug */
        fprintf(stderr, "fuzz_lua: %llu handler errors%s%s\n",
                (unsigned long long)lbr_handler_errors(b), lbr_failed(b) ? ": " : "",
                lbr_failed(b) ? lbr_error(b) : "");
        abort();
    }
    lbr_free(b);
    eng_free(e);
    return 0;
}
