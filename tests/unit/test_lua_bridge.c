/* test_lua_bridge.c - the Lua bridge and the engine module, driven with
 * synthetic packets: dispatch and fields, unknown event names, handler errors
 * (continue / strict), the watchdog, JSON logs with invalid UTF-8, timers,
 * flow proxies after the flow ended. Also prints the dispatch cost per event.
 *
 * The bridge is not in libengine.a (it needs LuaJIT), so it is compiled in
 * here. The Lua side reaches C through a table of function pointers, so this
 * test needs no -Wl,-E. Run from the repository top (or set ENGINE_HOME). */
#include "../../engine/lua_bridge.c"

#include <stdarg.h>

#include "check.h"
#include "pktbuild.h"

/* the hard-stop test abandons a Lua state on purpose: lua-cjson's buffers in it leak */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:cjson.so\n"; }

#define T0 1700000000123456000LL
#define SEC 1000000000LL

static const char *home(void) {
    const char *h = getenv("ENGINE_HOME");
    return h && *h ? h : ".";
}

static lbr_t *bridge(eng_t *e, const char *outdir) {
    char err[512];
    lbr_t *b = lbr_new(e, home(), outdir, err, sizeof err);
    if (!b) fprintf(stderr, "lbr_new: %s\n", err);
    return b;
}

/* run Lua; on failure print the message */
static int lua_ok(lbr_t *b, const char *code) {
    char err[1024];
    if (lbr_load_string(b, code, "=test", err, sizeof err) == 0) return 1;
    fprintf(stderr, "lua: %s\n", err);
    return 0;
}

static void udp(eng_t *e, int64_t ts, const char *src, uint16_t sp, const char *dst, uint16_t dp,
                const char *data) {
    uint8_t buf[2048];
    size_t n = pb_udp4(buf, src, sp, dst, dp, data, strlen(data));
    eng_feed(e, ts, 1, buf, (uint32_t)n, (uint32_t)n);
}

static void tcp(eng_t *e, int64_t ts, int resp, uint32_t seq, uint32_t ack, uint8_t flags,
                const char *data) {
    uint8_t buf[2048];
    size_t n = resp ? pb_tcp4(buf, "10.0.0.2", 80, "10.0.0.1", 40000, seq, ack, flags, data,
                              strlen(data), 65535)
                    : pb_tcp4(buf, "10.0.0.1", 40000, "10.0.0.2", 80, seq, ack, flags, data,
                              strlen(data), 65535);
    eng_feed(e, ts, 1, buf, (uint32_t)n, (uint32_t)n);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

TEST(fields_and_flow) {
    eng_t *e = eng_new();
    lbr_t *b = bridge(e, NULL);
    CHECK(b != NULL);
    if (!b) return;
    CHECK(lua_ok(b, "R = {}\n"
                    "engine.on('flow.start', function(flow, ev)\n"
                    "  R.start = (R.start or 0) + 1\n"
                    "  R.uid, R.proto = flow.uid, flow.proto\n"
                    "  R.oh, R.op, R.rh, R.rp = flow.orig_h, flow.orig_p, flow.resp_h, flow.resp_p\n"
                    "  flow.data.seen = true\n"
                    "end)\n"
                    "engine.on('tcp.data', function(flow, ev)\n"
                    "  R.data = (R.data or '') .. ev.data\n"
                    "  R.dir, R.offset = ev.dir, ev.offset\n"
                    "  R.nope_ok, R.nope = pcall(function() return ev.nope end)\n"
                    "  R.fnope_ok, R.fnope = pcall(function() return flow.orig_host end)\n"
                    "  R.kept = flow.data.seen\n"
                    "  R.ro = pcall(function() ev.data = 1 end)\n"
                    "end)\n"
                    "engine.on('flow.end', function(flow, ev)\n"
                    "  R.reason, R.state, R.ob = ev.reason, flow.state, flow.orig_bytes\n"
                    "  R.dur = flow.last_ts - flow.start_ts\n"
                    "  R.keep = flow\n"
                    "end)\n"));
    tcp(e, T0, 0, 1000, 0, PB_SYN, "");
    tcp(e, T0 + SEC / 10, 1, 5000, 1001, PB_SYN | PB_ACK, "");
    tcp(e, T0 + 2 * SEC / 10, 0, 1001, 5001, PB_ACK, "");
    tcp(e, T0 + 3 * SEC / 10, 0, 1001, 5001, PB_ACK | PB_PSH, "hello ");
    tcp(e, T0 + 4 * SEC / 10, 0, 1007, 5001, PB_ACK | PB_PSH, "world");
    eng_finish(e);
    CHECK(lua_ok(b, "assert(R.start == 1, 'start ' .. tostring(R.start))\n"
                    "assert(R.uid:match('^C'), R.uid)\n"
                    "assert(R.proto == 'tcp')\n"
                    "assert(R.oh == '10.0.0.1' and R.op == 40000 and R.rh == '10.0.0.2' and R.rp == 80)\n"
                    "assert(R.data == 'hello world', tostring(R.data))\n"
                    "assert(R.dir == 'orig' and R.offset == 6)\n"
                    "-- a name the event or the flow does not have is an error naming the nearest\n"
                    "assert(not R.nope_ok and R.nope:find(\"event 'tcp.data' has no field 'nope' (did you mean\", 1, true), R.nope)\n"
                    "assert(not R.fnope_ok and R.fnope:find(\"flow has no field 'orig_host' (did you mean 'orig_h'?)\", 1, true), R.fnope)\n"
                    "assert(R.fnope:find('^test:%d+: '), R.fnope)\n"
                    "assert(R.kept == true and R.ro == false)\n"
                    "assert(R.reason == 'eof', R.reason)\n"
                    "assert(R.ob == 11, R.ob)\n"
                    "assert(math.abs(R.dur - 0.4) < 1e-6, R.dur)\n"
                    "-- the proxy outlives the flow with a copy of its fields\n"
                    "assert(R.keep.uid == R.uid and R.keep.orig_bytes == 11 and R.keep.state == R.state)\n"
                    "assert(R.keep.ended == true)\n"
                    "local ev = engine.events()\n"
                    "assert(ev['tcp.data'][3] == 'data' and #ev['engine.init'] == 0)\n"));
    lbr_free(b);
    eng_free(e);
}

TEST(unknown_event) {
    eng_t *e = eng_new();
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    char err[512] = "";
    int rc = lbr_load_string(b, "\n engine.on('tcp.dat', print)", "=policy.lua", err, sizeof err);
    CHECK_EQ_INT(rc, -1);
    CHECK(strstr(err, "policy.lua:2:") != NULL);
    CHECK(strstr(err, "unknown event 'tcp.dat'") != NULL);
    CHECK(strstr(err, "did you mean 'tcp.data'") != NULL);
    if (rc == 0 || !strstr(err, "tcp.data")) fprintf(stderr, "got: %s\n", err);
    /* a script file with a syntax error */
    FILE *f = fopen("/tmp/test_lua_bridge_bad.lua", "w");
    fputs("local x = \n\n(", f);
    fclose(f);
    rc = lbr_load_file(b, "/tmp/test_lua_bridge_bad.lua", err, sizeof err);
    CHECK_EQ_INT(rc, -1);
    CHECK(strstr(err, "/tmp/test_lua_bridge_bad.lua:3:") != NULL);
    remove("/tmp/test_lua_bridge_bad.lua");
    lbr_free(b);
    eng_free(e);
}

TEST(handler_error_continues) {
    eng_t *e = eng_new();
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    CHECK(lua_ok(b, "N1, N2 = 0, 0\n"
                    "engine.on('udp.data', function() N1 = N1 + 1; error('boom') end)\n"
                    "engine.on('udp.data', function() N2 = N2 + 1 end)\n"));
    fprintf(stderr, "(two handler errors with tracebacks expected below)\n");
    udp(e, T0, "10.0.0.1", 1111, "10.0.0.2", 53, "x");
    udp(e, T0 + 1, "10.0.0.1", 1111, "10.0.0.2", 53, "y");
    CHECK_EQ_INT(eng_stats(e)->handler_errors, 2);
    CHECK(!lbr_failed(b));
    CHECK(lua_ok(b, "assert(N1 == 2 and N2 == 2, N1 .. ' ' .. N2)\n"
                    "assert(engine.stats().handler_errors == 2)\n"
                    "assert(engine.stats().events_fired['udp.data'] == 2)\n"));
    lbr_free(b);
    eng_free(e);
}

TEST(strict_mode) {
    eng_t *e = eng_new();
    char err[256];
    CHECK_EQ_INT(eng_config_set(e, "lua.strict", "true", err, sizeof err), 0);
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    CHECK(lua_ok(b, "N2 = 0\n"
                    "assert(engine.config['lua.strict'] == true)\n"
                    "engine.on('udp.data', function() error('strict boom') end)\n"
                    "engine.on('udp.data', function() N2 = N2 + 1 end)\n"));
    fprintf(stderr, "(one handler error expected below)\n");
    udp(e, T0, "10.0.0.1", 1111, "10.0.0.2", 53, "x");
    CHECK(lbr_failed(b));
    CHECK(strstr(lbr_error(b), "strict boom") != NULL);
    CHECK(strstr(lbr_error(b), "=test") == NULL || 1);
    udp(e, T0 + 1, "10.0.0.1", 1111, "10.0.0.2", 53, "y"); /* ignored once failed */
    CHECK_EQ_INT(eng_stats(e)->handler_errors, 1);
    lbr_free(b);
    eng_free(e);
}

static double ms_since(struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

TEST(watchdog_interrupts) {
    eng_t *e = eng_new();
    char err[256];
    CHECK_EQ_INT(eng_config_set(e, "lua.handler_timeout_ms", "100", err, sizeof err), 0);
    /* three timeouts of one handler would switch it off (lua.max_timeouts) */
    CHECK_EQ_INT(eng_config_set(e, "lua.max_timeouts", "0", err, sizeof err), 0);
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    /* runaway loops that make calls LuaJIT does not compile: interruptible */
    CHECK(lua_ok(b, "N, M = 0, 0\n"
                    "engine.on('udp.data', function(flow, ev)\n"
                    "  N = N + 1\n"
                    "  if N == 1 then local s = '' for i = 1, 1e12 do s = s:sub(1, 5) .. i end end\n"
                    "  if N == 2 then local t = {} while true do for k, v in pairs({1,2,3}) do t[k] = v end end end\n"
                    "  if N == 3 then while true do local a = ('abcdef'):find('c.') end end\n"
                    "  M = M + 1\n"
                    "end)\n"));
    fprintf(stderr, "(three watchdog errors expected below)\n");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 4; i++) udp(e, T0 + i, "10.0.0.1", 1111, "10.0.0.2", 53, "x");
    double ms = ms_since(&t0);
    fprintf(stderr, "watchdog: 3 runaway handlers stopped in %.0f ms\n", ms);
    CHECK(ms < 3000);
    CHECK_EQ_INT(eng_stats(e)->handler_errors, 3);
    CHECK(!lbr_failed(b));
    CHECK(lua_ok(b, "assert(N == 4 and M == 1, N .. ' ' .. M)\n"));
    lbr_free(b);
    eng_free(e);
}

TEST(watchdog_hard_stop) {
    eng_t *e = eng_new();
    char err[256];
    CHECK_EQ_INT(eng_config_set(e, "lua.handler_timeout_ms", "50", err, sizeof err), 0);
    /* scripts compiled (by default they run interpreted, and the loop is stopped) */
    CHECK_EQ_INT(eng_config_set(e, "lua.jit_scripts", "true", err, sizeof err), 0);
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    /* a compiled loop: hooks never run inside it */
    CHECK(lua_ok(b, "engine.on('udp.data', function() local x = 0 while true do x = x + 1 end end)\n"));
    fprintf(stderr, "(an uninterruptible-loop message expected below)\n");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    udp(e, T0, "10.0.0.1", 1111, "10.0.0.2", 53, "x");
    double ms = ms_since(&t0);
    fprintf(stderr, "watchdog: compiled loop abandoned after %.0f ms\n", ms);
    CHECK(ms < 3000);
    CHECK(lbr_failed(b));
    CHECK(strstr(lbr_error(b), "compiled loop") != NULL);
    udp(e, T0 + 1, "10.0.0.1", 1111, "10.0.0.2", 53, "x"); /* no Lua any more, no crash */
    eng_finish(e);
    lbr_free(b);
    eng_free(e);
}

TEST(json_logs) {
    eng_t *e = eng_new();
    const char *dir = "/tmp/test_lua_bridge_logs";
    lbr_t *b = bridge(e, dir);
    if (!b) { CHECK(0); return; }
    CHECK(lua_ok(b, "engine.log_columns('t', {'z', 'a'})\n"
                    "engine.log('t', { ts = 1700000000.123456, a = 'a\\255b/c\"\\1', z = 5, n = 0.1,"
                    " l = {1, 'x'}, m = { k = true }, e = {}, big = 2^53 + 2, nan = 0/0 })\n"
                    "engine.log('t', { uid = 'C1', ['id.orig_h'] = '::1', ok = '\\226\\130\\172' })\n"
                    "local ok = pcall(engine.log, '../x', {})\n"
                    "assert(not ok)\n"
                    "engine.alert(nil, 'hi', { x = 1 })\n"));
    lbr_free(b);
    eng_free(e);
    char *t = slurp("/tmp/test_lua_bridge_logs/t.log");
    CHECK(t != NULL);
    if (t) {
        const char *want =
            "{\"ts\":1700000000.123456,\"z\":5,\"a\":\"a\\\\xffb/c\\\"\\u0001\",\"big\":9007199254740994,"
            "\"e\":[],\"l\":[1,\"x\"],\"m\":{\"k\":true},\"n\":0.1}\n"
            "{\"ts\":0,\"uid\":\"C1\",\"id.orig_h\":\"::1\",\"ok\":\"\xe2\x82\xac\"}\n";
        CHECK_STR(t, want);
        if (strcmp(t, want)) fprintf(stderr, "got:  %swant: %s", t, want);
    }
    t = slurp("/tmp/test_lua_bridge_logs/alert.log");
    CHECK(t && strstr(t, "\"msg\":\"hi\",\"x\":1}") != NULL);
    remove("/tmp/test_lua_bridge_logs/t.log");
    remove("/tmp/test_lua_bridge_logs/alert.log");
    rmdir(dir);
}

TEST(default_scripts) {
    eng_t *e = eng_new();
    const char *dir = "/tmp/test_lua_bridge_default";
    lbr_t *b = bridge(e, dir);
    if (!b) { CHECK(0); return; }
    char err[512];
    CHECK_EQ_INT(lbr_load_default(b, err, sizeof err), 0);
    udp(e, T0, "10.0.0.1", 1111, "10.0.0.2", 53, "query");
    udp(e, T0 + SEC / 2, "10.0.0.2", 53, "10.0.0.1", 1111, "answer!");
    eng_weird(e, NULL, "test_weird", "detail %d", 7);
    eng_finish(e);
    CHECK(!lbr_failed(b));
    lbr_free(b);
    eng_free(e);
    char *t = slurp("/tmp/test_lua_bridge_default/conn.log");
    CHECK(t != NULL);
    if (t) {
        CHECK(strstr(t, "{\"ts\":1700000000.123456,\"uid\":\"C") == t);
        CHECK(strstr(t, "\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1111,\"id.resp_h\":\"10.0.0.2\","
                        "\"id.resp_p\":53,\"proto\":\"udp\"") != NULL);
        CHECK(strstr(t, "\"duration\":0.5,\"orig_bytes\":5,\"resp_bytes\":7,") != NULL);
        /* IPv4 + UDP headers (28 bytes) plus the payload; ip_proto, then the Community ID
         * (computed with Python's hashlib for 10.0.0.1:1111 -> 10.0.0.2:53 UDP, seed 0) */
        CHECK(strstr(t, "\"orig_pkts\":1,\"orig_ip_bytes\":33,\"resp_pkts\":1,\"resp_ip_bytes\":35,"
                        "\"ip_proto\":17,\"community_id\":\"1:kKqoDR/zUg6/jbgxj5w9HbCPnbs=\"}") != NULL);
        fprintf(stderr, "conn.log: %s", t);
    }
    t = slurp("/tmp/test_lua_bridge_default/weird.log");
    CHECK(t && strstr(t, "\"name\":\"test_weird\",\"addl\":\"detail 7\"") != NULL);
    remove("/tmp/test_lua_bridge_default/conn.log");
    remove("/tmp/test_lua_bridge_default/weird.log");
    rmdir(dir);
}

TEST(timers) {
    eng_t *e = eng_new();
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    CHECK(lua_ok(b, "A, EV, LATE, T = 0, 0, 0, {}\n"
                    "engine.after(1, function() A = A + 1; T[#T+1] = engine.now() end)\n"
                    "engine.every(1, function() EV = EV + 1 end)\n"
                    "engine.on('udp.data', function()\n"
                    "  if not X then X = engine.after(0.5, function() A = A + 10 end) end\n"
                    "  if not Y then Y = engine.after(100, function() LATE = 1 end) end\n"
                    "  if not Z then Z = engine.after(0.2, function() A = A + 100 end); Z:cancel() end\n"
                    "end)\n"));
    for (int i = 0; i <= 30; i++) udp(e, T0 + i * SEC / 10, "10.0.0.1", 1111, "10.0.0.2", 53, "x");
    eng_finish(e);
    /* at engine.done the pending after(100) fires, and the every(1) once more */
    CHECK(lua_ok(b, "assert(A == 11, 'A=' .. A)\n"
                    "assert(EV == 4, 'EV=' .. EV)\n"
                    "assert(LATE == 1)\n"
                    "assert(math.abs(T[1] - 1700000001.123456) < 1e-6, T[1])\n"));
    lbr_free(b);
    eng_free(e);
}

/* eng_advance across 25 s: ticks and timers in time order, each at its time */
TEST(timers_advance) {
    eng_t *e = eng_new();
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    udp(e, T0, "10.0.0.1", 1111, "10.0.0.2", 53, "x");
    CHECK(lua_ok(b, "T0 = engine.now(); SEQ = {}\n"
                    "local function at(w) SEQ[#SEQ+1] = w .. '@' .. string.format('%.3f', engine.now() - T0) end\n"
                    "engine.every(10, function() at('every') end)\n"
                    "engine.after(5, function() at('after') end)\n"
                    "engine.on('engine.tick', function() at('tick') end)\n"));
    eng_advance(e, T0 + 25 * SEC);
    CHECK(eng_now(e) == T0 + 25 * SEC);
    /* T0 is .123456 s past a whole second: ticks at +0.877, +1.877, ... */
    CHECK(lua_ok(b, "local t = {}\n"
                    "for _, s in ipairs(SEQ) do if not s:match('^tick') then t[#t+1] = s end end\n"
                    "assert(table.concat(t, ' ') == 'after@5.000 every@10.000 every@20.000', table.concat(t, ' '))\n"
                    "assert(#SEQ == 28, #SEQ)\n"
                    "assert(SEQ[1] == 'tick@0.877' and SEQ[28] == 'tick@24.877', SEQ[28])\n"
                    "assert(SEQ[5] == 'tick@4.877' and SEQ[6] == 'after@5.000' and SEQ[7] == 'tick@5.877')\n"
                    "assert(SEQ[11] == 'tick@9.877' and SEQ[12] == 'every@10.000' and SEQ[23] == 'every@20.000')\n"));
    lbr_free(b);
    eng_free(e);
}

TEST(helpers) {
    eng_t *e = eng_new();
    char cerr[128];
    /* the test writes and removes a file in /tmp: outside the sandbox */
    CHECK(eng_config_set(e, "lua.unsafe", "true", cerr, sizeof cerr) == 0);
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    CHECK(lua_ok(b, "local s = engine.cidr{'10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::ffff:172.16.0.0/108'}\n"
                    "assert(s:contains('10.1.2.3') and not s:contains('11.0.0.1'))\n"
                    "assert(s:contains('192.168.1.7') and not s:contains('192.168.1.8'))\n"
                    "assert(s:contains('2001:db8:1::5') and not s:contains('2001:db9::1'))\n"
                    "assert(s:contains('172.16.3.4') and s:contains('::ffff:10.9.9.9'))\n"
                    "assert(not s:contains('junk') and not pcall(engine.cidr, {'10.0.0.0/33'}))\n"
                    "assert(engine.b64encode('hello!?') == 'aGVsbG8hPw==')\n"
                    "assert(engine.b64decode('aGVsbG8h\\nPw==') == 'hello!?')\n"
                    "assert(engine.b64decode('a$') == nil)\n"
                    "local ok, h = pcall(engine.hash, 'md5', 'abc')\n"
                    "assert(not ok or h == '900150983cd24fb0d6963f7d28e17f72', h)\n"
                    "assert(engine.config['tcp.max_ooo_bytes'] == 1048576)\n"
                    "assert(engine.config['flow.udp_timeout'] == 60)\n"
                    "assert(not pcall(function() engine.config.x = 1 end))\n"
                    "local f = io.open('/tmp/test_lua_bridge.list', 'w')\n"
                    "f:write('# c\\n\\n a \\nb\\n') f:close()\n"
                    "local l = engine.load_list('/tmp/test_lua_bridge.list')\n"
                    "os.remove('/tmp/test_lua_bridge.list')\n"
                    "assert(#l == 2 and l[1] == 'a' and l[2] == 'b')\n"
                    "local id = engine.on('udp.data', print)\n"
                    "assert(engine.off(id) and not engine.off(id))\n"));
    lbr_free(b);
    eng_free(e);
}

/* the cost of one handled event: C event -> Lua handler reading one field */
TEST(dispatch_cost) {
    eng_t *e = eng_new();
    lbr_t *b = bridge(e, NULL);
    if (!b) { CHECK(0); return; }
    CHECK(lua_ok(b, "N = 0\n"
                    "engine.on('tcp.gap', function(flow, ev) N = N + 1 end)\n"
                    "engine.on('tcp.overlap', function(flow, ev) if ev.len > 0 then N = N + 1 end end)\n"
                    "engine.on('engine.tick', function(flow, ev) N = N + 1 end)\n"));
    eng_event_t ev;
    const int n = 2000000;
    struct timespec t0;
    /* engine-level event, flow nil, no field read */
    ev_init(&ev, ENG_EV_ENGINE_TICK, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) eng_fire(e, &ev);
    double a = ms_since(&t0) * 1e6 / n;
    /* an event with a flow (proxy looked up) and one INT field read */
    udp(e, T0, "10.0.0.1", 1111, "10.0.0.2", 53, "x"); /* a flow to point at */
    flow_t *f = e->ft.head[FL_LIST(TO_OTHER, EST_NONE)]; /* one-way: not established */
    CHECK(f != NULL);
    if (f) {
        ev_init(&ev, ENG_EV_TCP_OVERLAP, &f->pub);
        ev_set(&ev, ENG_F_TCP_OVERLAP_len, ev_int(5));
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < n; i++) eng_fire(e, &ev);
        double c = ms_since(&t0) * 1e6 / n;
        fprintf(stderr, "dispatch cost: %.1f ns/event (no flow, no field), %.1f ns/event (flow + 1 field)\n",
                a, c);
    }
    CHECK(eng_stats(e)->handler_errors == 0);
    lbr_free(b);
    eng_free(e);
}

int main(void) {
    RUN(fields_and_flow);
    RUN(unknown_event);
    RUN(handler_error_continues);
    RUN(strict_mode);
    RUN(watchdog_interrupts);
    RUN(watchdog_hard_stop);
    RUN(json_logs);
    RUN(default_scripts);
    RUN(timers);
    RUN(timers_advance);
    RUN(helpers);
    RUN(dispatch_cost);
    return check_report("lua_bridge");
}
