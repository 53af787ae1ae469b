-- engine.testing itself (docs/testing.md)
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T

-- engine.log fills ts (engine.now()) in a record that has none: the comparisons
-- below are of the other fields (the ts spec in lua_api_spec.lua checks ts itself)
local function nots(list)
  local r = {}
  for i, rec in ipairs(list) do
    local c = {}
    for k, v in pairs(rec) do if k ~= "ts" then c[k] = v end end
    r[i] = c
  end
  return r
end

describe("engine.testing", function()
  it("T.run gives empty lists for streams nothing wrote to, and the counters", function()
    local out = T.run { pcap = H.pcap("udp-dns-like.pcap"), code = "" , default = false }
    assert.are.same({}, out.conn)
    assert.are.same({}, out.streams)
    assert.are.equal(28, out.stats.packets)
    assert.are.equal(0, out.stats.handler_errors)
  end)

  it("T.run passes config to the engine", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), config = { ["engine.seed"] = 7, ["my.key"] = "v" },
      code = 'engine.on("engine.done", function() engine.log("c", { seed = engine.config["engine.seed"], k = engine.config["my.key"] }) end)' }
    assert.are.same({ seed = 7, k = "v" }, nots(out.c)[1])
  end)

  it("T.run raises on an unreadable capture, at the spec's line", function()
    local ok, err = pcall(T.run, { pcap = "/nonexistent.pcap" })
    assert.is_false(ok)
    assert.matches("nonexistent.pcap", err)
  end)

  it("T.load raises on a script that does not load, naming it", function()
    local ok, err = pcall(T.load, { code = "engine.on('http.requets', print)" })
    assert.is_false(ok)
    assert.matches("unknown event 'http.requets' %(did you mean 'http.request'%?%)", err)
  end)

  it("fire checks event names, field names and field types", function()
    local eng = T.load { code = "" }
    assert.has_error(function() eng:fire("http.requets", {}) end, "unknown event 'http.requets'")
    assert.has_error(function() eng:fire("http.request", { url = "/" }) end,
      "event 'http.request' has no field 'url'")
    assert.has_error(function() eng:fire("http.response", { status = "200" }) end)
    assert.has_error(function() eng:fire("http.request", {}, { port = 1 }) end)
    assert.has_error(function() eng:fire("http.request", {}, { orig_h = "10.0.0.1", resp_h = "::1" }) end)
  end)

  it("synthetic events reach handlers through the same ev and flow proxies", function()
    local eng = T.load { code = [[
      engine.on("http.request", function(flow, ev)
        flow.data.n = (flow.data.n or 0) + 1
        local ok = pcall(function() ev.uri = "x" end)
        engine.log("seen", { uri = ev.uri, n = flow.data.n, proto = flow.proto, uid = flow.uid,
          orig_h = flow.orig_h, resp_p = flow.resp_p, state = flow.state,
          ro = not ok, mt = getmetatable(ev) == false, h = ev.headers, absent = ev.host })
      end)
    ]] }
    local flow = { orig_h = "2001:db8::1", resp_h = "2001:db8::2", resp_p = 8080, state = "SF" }
    eng:fire("http.request", { method = "GET", uri = "/a", headers = { accept = "*/*" } }, flow)
    eng:fire("http.request", { method = "GET", uri = "/b" }, flow)
    local s = eng:records("seen")
    assert.are.equal(2, #s)
    assert.are.equal(2, s[2].n) -- same flow, same flow.data
    assert.are.equal(s[1].uid, s[2].uid)
    assert.are.equal("2001:db8::1", s[1].orig_h)
    assert.are.equal("tcp", s[1].proto)
    assert.are.equal("SF", s[1].state)
    assert.is_true(s[1].ro)
    assert.is_true(s[1].mt)
    assert.are.same({ accept = "*/*" }, s[1].h)
    assert.is_nil(s[1].absent)
  end)

  it("timers run in network time as the clock is advanced", function()
    local eng = T.load { start = 100, code = [[
      engine.after(10, function() engine.log("t", { at = engine.now() }) end)
      local n = 0
      engine.on("engine.tick", function() n = n + 1 end)
      engine.on("engine.done", function() engine.log("ticks", { n = n }) end)
    ]] }
    assert.are.equal(100, eng:now())
    eng:advance(9.5)
    assert.are.equal(0, #eng:records("t"))
    eng:advance(0.5)
    assert.are.same({ { at = 110 } }, nots(eng:records("t")))
    eng:finish()
    assert.are.equal(10, eng:records("ticks")[1].n)
  end)

  it("a jump of the clock steps through every timer and tick in time order", function()
    local eng = T.load { start = 100, code = [[
      local function at(what) engine.log("seq", { what = what, at = engine.now() - 100 }) end
      engine.every(10, function() at("every") end)
      engine.after(5, function() at("after") end)
      engine.on("engine.tick", function(_, ev) at("tick"); assert(ev.ts == engine.now()) end)
    ]] }
    eng:advance(25)
    local seq, ticks, timers = nots(eng:records("seq")), 0, {}
    for i, r in ipairs(seq) do
      if r.what == "tick" then
        ticks = ticks + 1
        assert.are.equal(ticks, r.at) -- one per second, at its own time
      else
        timers[#timers + 1] = r
        -- in time order with the ticks: the tick of the same second came first
        assert.are.same({ what = "tick", at = r.at }, seq[i - 1])
      end
    end
    assert.are.equal(25, ticks)
    assert.are.same({ { what = "after", at = 5 }, { what = "every", at = 10 }, { what = "every", at = 20 } },
      timers)
    assert.are.equal(125, eng:now())
  end)

  it("timers interleave with ticks at their own time between whole seconds", function()
    local eng = T.load { start = 100.5, code = [[
      engine.after(2, function() engine.log("seq", { what = "after", at = engine.now() }) end)
      engine.on("engine.tick", function() engine.log("seq", { what = "tick", at = engine.now() }) end)
    ]] }
    eng:advance(3)
    assert.are.same({ { what = "tick", at = 101 }, { what = "tick", at = 102 }, { what = "after", at = 102.5 },
      { what = "tick", at = 103 } }, nots(eng:records("seq")))
  end)

  it("a silence longer than an hour: the first hour is stepped, the rest jumped", function()
    local eng = T.load { start = 100, code = [[
      local n, every = 0, {}
      engine.on("engine.tick", function() n = n + 1 end)
      engine.every(600, function() every[#every + 1] = engine.now() end)
      engine.after(5000, function() engine.log("late", { at = engine.now() }) end)
      engine.on("engine.done", function() engine.log("r", { ticks = n, every = every }) end)
    ]] }
    eng:advance(1e6)
    eng:finish()
    local r = eng:records("r")[1]
    assert.are.equal(3600, r.ticks)
    -- six periods in the first hour, then once at the new time, then once at engine.done
    assert.are.same({ 700, 1300, 1900, 2500, 3100, 3700, 1000100, 1000100 }, r.every)
    assert.are.same({ { at = 1000100 } }, nots(eng:records("late")))
  end)

  it("pending timers fire at engine.done, in due order, before the engine.done handlers", function()
    local eng = T.load { start = 100, code = [[
      local function log(what) engine.log("seq", { what = what, at = engine.now() }) end
      engine.on("flow.start", function()
        engine.after(100, function() log("after100") end)
        engine.after(50, function()
          log("after50")
          engine.after(0, function() log("made at done") end) -- not fired
        end)
        engine.after(60, function() log("cancelled") end):cancel()
        engine.every(30, function() log("every30") end)
      end)
      engine.on("flow.end", function() log("flow.end") end)
      engine.on("engine.done", function() log("done") end)
    ]] }
    eng:fire("flow.start", {}, { proto = "udp", resp_p = 53 })
    eng:advance(10)
    eng:finish()
    assert.are.same({ { what = "flow.end", at = 110 }, { what = "every30", at = 110 },
      { what = "after50", at = 110 }, { what = "after100", at = 110 }, { what = "done", at = 110 } },
      nots(eng:records("seq")))
  end)

  it("flow.end drops the flow: the next event with the same endpoints is a new flow", function()
    local eng = T.load { code = [[
      engine.on("udp.data", function(flow) engine.log("u", { uid = flow.uid }) end)
      engine.on("flow.end", function(flow, ev) engine.log("e", { uid = flow.uid, reason = ev.reason }) end)
    ]] }
    local flow = { proto = "udp", resp_p = 53 }
    eng:fire("udp.data", { dir = "orig", data = "\0\1" }, flow)
    eng:fire("flow.end", { reason = "timeout" }, flow)
    eng:fire("udp.data", { dir = "orig", data = "\0\2" }, flow)
    eng:finish()
    local u, e = eng:records("u"), nots(eng:records("e"))
    assert.are_not.equal(u[1].uid, u[2].uid)
    assert.are.same({ { uid = u[1].uid, reason = "timeout" }, { uid = u[2].uid, reason = "eof" } }, e)
  end)

  it("flow:skip and flow:set_service work on synthetic flows", function()
    local eng = T.load { code = [[
      engine.on("flow.start", function(flow) if flow.resp_p == 2525 then flow:set_service("smtp") end end)
      engine.on("flow.service", function(flow, ev) engine.log("svc", { s = ev.service, by = ev.by }) end)
      engine.on("tcp.data", function(flow) engine.log("d", {}); flow:skip() end)
    ]] }
    eng:fire("flow.start", {}, { resp_p = 2525 })
    assert.are.same({ { s = "smtp", by = "script" } }, nots(eng:records("svc")))
    eng:fire("tcp.data", { dir = "orig", offset = 0, data = "x" }, { resp_p = 80 })
    eng:fire("tcp.data", { dir = "orig", offset = 1, data = "y" }, { resp_p = 80 })
    assert.are.equal(1, #eng:records("d")) -- a skipped flow gets no more payload events
  end)

  it("with strict = false a handler error is counted and the run goes on", function()
    local eng = T.load { strict = false, code = [[
      engine.on("weird", function() error("boom") end)
      engine.on("weird", function(_, ev) engine.log("w", { name = ev.name }) end)
    ]] }
    eng:fire("weird", { name = "x" }, false)
    assert.are.equal(1, #eng:records("w"))
    assert.are.equal(1, eng:stats().handler_errors)
  end)

  it("T.load can also read a capture; records() lists every stream", function()
    local eng = T.load { H.script("logs/conn.lua") }
    eng:read(H.pcap("udp-dns-like.pcap"))
    eng:finish()
    local all = eng:records()
    assert.are.equal(4, #all.conn)
    eng:close()
    assert.has_error(function() eng:fire("weird", { name = "x" }) end)
  end)

  it("passes other output of a policy through", function()
    local eng = T.load { code = 'io.stdout:write("")' }
    assert.are.same({}, eng:records())
  end)

  it("has T.hash, the digests engine.hash gives a script", function()
    assert.are.equal("900150983cd24fb0d6963f7d28e17f72", T.hash("md5", "abc"))
    assert.are.equal("a9993e364706816aba3e25717850c26c9cd0d89d", T.hash("sha1", "abc"))
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", T.hash("sha256", "abc"))
    local out = T.run { pcap = H.pcap("http-curl.pcap"),
      code = 'engine.on("engine.done", function() engine.log("h", { v = engine.hash("sha1", "x\\0y") }) end)' }
    assert.are.equal(T.hash("sha1", "x\0y"), out.h[1].v)
    assert.has_error(function() T.hash("crc32", "x") end)
  end)
end)
