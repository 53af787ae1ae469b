-- default.lua: what runs when no script is given
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T

describe("scripts/default.lua", function()
  it("runs when no script is given and logs every flow of a capture", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap") }
    assert.are.equal(4, #out.conn)
    assert.are.equal(0, #out.weird)
    for _, r in ipairs(out.conn) do
      assert.is_string(r.uid)
      assert.is_nil(r._path)
      assert.are.equal(8080, r["id.resp_p"])
    end
    assert.are.equal(57, out.stats.packets)
    assert.are.equal(4, out.stats.flows)
  end)

  it("writes the streams of the log scripts it requires", function()
    local f = assert(io.open(H.script("default.lua")))
    local src = f:read("*a")
    f:close()
    local out = T.run { pcap = H.pcap("http-curl.pcap") }
    local expect = { conn = 4, http = 5, files = 6 } -- what http-curl.pcap holds
    for name in src:gmatch('require%s*%(?%s*"logs%.([%w_]+)"') do
      if expect[name] then assert.are.equal(expect[name], #out[name], name) end
    end
  end)

  it("gives the same records, uids included, on every run", function()
    local a = T.run { pcap = H.pcap("tcp-misc.pcap") }
    local b = T.run { pcap = H.pcap("tcp-misc.pcap") }
    assert.are.same(a.conn, b.conn)
  end)

  it("is the same as loading the log scripts one by one", function()
    local a = T.run { pcap = H.pcap("tcp-misc.pcap") }
    local b = T.run { pcap = H.pcap("tcp-misc.pcap"),
                      scripts = { H.script("logs/conn.lua"), H.script("logs/weird.lua") } }
    assert.are.same(a.conn, b.conn)
  end)

  it("can be required by name from a policy", function()
    local eng = T.load { code = 'require "default"' }
    eng:fire("flow.end", { reason = "eof" }, { orig_h = "192.0.2.1", resp_p = 443 })
    assert.are.equal(1, #eng:records("conn"))
    eng:close()
  end)
end)
