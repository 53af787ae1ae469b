-- lua_api_spec.lua - typos of the Lua API are errors naming the nearest name
-- (issue 11): ev and flow fields, event names in the wrong case; engine.after /
-- engine.every errors carry file:line; engine.log fills ts.
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T

describe("the engine module", function()
  it("an event field the event does not have is an error naming the nearest one", function()
    local eng = T.load { code = [[
      engine.on("http.request", function(flow, ev)
        local ok, err = pcall(function() return ev.urii end)
        engine.log("r", { ok = ok, err = err, host = ev.host == nil })
      end)
    ]] }
    eng:fire("http.request", { method = "GET", uri = "/" })
    local r = eng:records("r")[1]
    assert.is_false(r.ok)
    assert.are.equal("(code #1):2: event 'http.request' has no field 'urii' (did you mean 'uri'?)", r.err)
    assert.is_true(r.host) -- a catalogue field this event did not carry reads nil
  end)

  it("a flow field the flow does not have is an error naming the nearest one", function()
    local eng = T.load { code = [[
      engine.on("http.request", function(flow, ev)
        local ok, err = pcall(function() return flow.orig_host end)
        flow.data.x = 1 -- flow.data stays the script's table
        engine.log("r", { ok = ok, err = err, x = flow.data.x })
      end)
    ]] }
    eng:fire("http.request", { method = "GET", uri = "/" })
    local r = eng:records("r")[1]
    assert.is_false(r.ok)
    assert.are.equal("(code #1):2: flow has no field 'orig_host' (did you mean 'orig_h'?)", r.err)
    assert.are.equal(1, r.x)
  end)

  it("an uncaught unknown field fails the handler (strict) at its line", function()
    local eng = T.load { code = 'engine.on("dns.query", function(flow, ev) return ev.qnam end)' }
    local ok, err = pcall(eng.fire, eng, "dns.query", {})
    assert.is_false(ok)
    assert.matches("has no field 'qnam' %(did you mean 'qname'%?%)", err)
  end)

  it("an upper-case event name suggests its lower-case match", function()
    local ok, err = pcall(T.load, { code = 'engine.on("HTTP.REQUEST", print)' })
    assert.is_false(ok)
    assert.matches("unknown event 'HTTP.REQUEST' %(did you mean 'http.request'%?%)", err)
  end)

  it("engine.after and engine.every errors carry the caller's file:line", function()
    for _, c in ipairs { "engine.every(0, print)", "engine.after(-1, print)", "engine.after(1, 'f')" } do
      local ok, err = pcall(T.load, { code = "local x = 1\n" .. c })
      assert.is_false(ok)
      assert.matches("%(code #1%):2: engine%.%a+: ", err)
    end
  end)

  it("engine.log fills ts when the record has none, and keeps the one it has", function()
    local eng = T.load { start = 1234.5, code = [[
      engine.on("engine.tick", function() end)
      engine.after(1, function() engine.log("a", { n = 1 }); engine.log("a", { n = 2, ts = 7 }) end)
    ]] }
    eng:advance(2)
    assert.are.same({ { n = 1, ts = 1235.5 }, { n = 2, ts = 7 } }, eng:records("a"))
  end)

  it("engine.config_key declares a script's key with its default", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), code = [[
      engine.config_key("my.k", 4, "doc")
      engine.on("engine.done", function()
        engine.log("c", { k = engine.config["my.k"], all = engine.config()["my.k"] })
      end)
    ]] }
    assert.are.equal(4, out.c[1].k)
    assert.are.equal(4, out.c[1].all)
  end)
end)
