-- logs/weird.lua: one record per weird
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local WEIRD = H.script("logs/weird.lua")

describe("scripts/logs/weird.lua", function()
  it("logs a flow's weird with its uid and endpoints", function()
    local eng = T.load { WEIRD }
    local flow = { uid = "CWeirdFlow00000001", orig_h = "10.0.0.5", orig_p = 1234,
                   resp_h = "10.0.0.6", resp_p = 80 }
    eng:fire("weird", { name = "bad_http_request_line", detail = "GE T /" }, flow)
    local w = eng:records("weird")
    assert.are.equal(1, #w)
    assert.are.same({
      ts = 1e9, uid = "CWeirdFlow00000001", ["id.orig_h"] = "10.0.0.5", ["id.orig_p"] = 1234,
      ["id.resp_h"] = "10.0.0.6", ["id.resp_p"] = 80, name = "bad_http_request_line",
      addl = "GE T /", notice = false, peer = "engine",
    }, w[1])
  end)

  it("logs a weird without a flow with ts only", function()
    local eng = T.load { WEIRD, start = 1234.5 }
    eng:fire("weird", { name = "truncated_packet" }, false)
    local w = eng:records("weird")[1]
    assert.are.same({ ts = 1234.5, name = "truncated_packet", notice = false, peer = "engine" }, w)
  end)

  it("logs the weirds the core finds in a damaged capture", function()
    -- Ethernet + IPv4 claiming TCP, with only 8 bytes of TCP header
    local eth = string.rep("\0", 12) .. "\8\0"
    local ip = "\69\0\0\28" .. "\0\1\0\0" .. "\64\6\0\0" .. "\10\0\0\1" .. "\10\0\0\2"
    local tcp = "\4\210\0\80\0\0\0\1"
    local path = H.write_pcap({ eth .. ip .. tcp })
    local out = T.run { pcap = path, scripts = { WEIRD } }
    os.remove(path)
    assert.is_true(#out.weird >= 1)
    assert.are.equal("truncated_tcp_header", out.weird[1].name)
    assert.are.equal(out.stats.weirds, #out.weird)
  end)

  it("logs nothing for a clean capture", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), scripts = { WEIRD } }
    assert.are.equal(0, #out.weird)
  end)
end)
