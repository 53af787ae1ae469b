-- the `packet` event (engine/packet.c): one per frame, after the engine
-- processed it; built only when a handler exists. The expected values of
-- http-curl.pcap are tshark's (frame.number, frame.time_epoch, ip.src/dst,
-- tcp.srcport/dstport, tcp.flags, frame.len, frame.cap_len, tcp.len);
-- tests/e2e/test_repl.sh compares every packet of the capture with tshark.
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T

local LOG_PACKETS = [[
engine.on("packet", function(flow, ev)
  engine.log("pkt", { number = ev.number, pts = ev.ts, caplen = ev.caplen, len = ev.len,
    layers = ev.layers, src = ev.src, dst = ev.dst, proto = ev.proto, sport = ev.sport,
    dport = ev.dport, flags = ev.flags, payload = ev.payload, vlan = ev.vlan,
    data_len = #ev.data, head = ev.data:sub(1, 16), puid = ev.uid, service = ev.service,
    flow_uid = flow and flow.uid or false })
end)
]]

describe("the packet event", function()
  it("describes each frame of a real TCP capture as tshark does", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), code = { LOG_PACKETS } }
    local p = out.pkt
    assert.are.equal(out.stats.packets, #p)
    for i, r in ipairs(p) do assert.are.equal(i, r.number) end
    local r = p[4] -- tshark: 4 1795434438.210960000 127.0.0.1 41048 127.0.0.1 8080 0x0018 152 152 86
    assert.are.equal(1795434438.210960, r.pts)
    assert.are.same({ "127.0.0.1", 41048, "127.0.0.1", 8080, "PA", 152, 152, 86, "eth:ip:tcp", "tcp" },
      { r.src, r.sport, r.dst, r.dport, r.flags, r.len, r.caplen, r.payload, r.layers, r.proto })
    assert.are.equal(152, r.data_len)
    assert.are.equal(string.rep("\0", 12) .. "\8\0\69\0", r.head)
    assert.are.equal("S", p[1].flags)
    assert.are.equal("SA", p[2].flags)
    assert.are.equal("FA", p[15].flags)
    -- the flow: its uid as field and as the handler's flow; the service once known
    assert.are.equal(r.puid, r.flow_uid)
    assert.is_nil(p[1].service)
    assert.are.equal("http", r.service)
    assert.are.equal(p[1].puid, r.puid)
  end)

  it("names the flow a frame ended (RST) though the flow is gone", function()
    local out = T.run { pcap = H.pcap("tcp-misc.pcap"), code = { LOG_PACKETS } }
    local resets = 0
    for _, r in ipairs(out.pkt) do
      if r.flags and r.flags:find("R") then
        resets = resets + 1
        assert.is_string(r.puid)
        assert.are.equal(18, #r.puid)
      end
    end
    assert.are.equal(2, resets) -- tshark: two frames with tcp.flags 0x0014
  end)

  it("describes UDP and frames that are not IP", function()
    local out = T.run { pcap = H.pcap("sip-udp-call.pcap"), code = { LOG_PACKETS } }
    local r = out.pkt[1] -- tshark: 1 udp.srcport 5082 udp.length 595 frame.len 629
    assert.are.same({ "udp", 5082, 587, 629, "eth:ip:udp" }, { r.proto, r.sport, r.payload, r.len, r.layers })
    assert.is_nil(r.flags)
    local arp = string.rep("\255", 6) .. string.rep("\1", 6) .. "\8\6" .. string.rep("\0", 28)
    local path = H.write_pcap({ arp })
    local o2 = T.run { pcap = path, code = { LOG_PACKETS } }
    os.remove(path)
    assert.are.equal(1, #o2.pkt)
    assert.are.same({ "eth", 42, false }, { o2.pkt[1].layers, o2.pkt[1].len, o2.pkt[1].flow_uid })
    assert.is_nil(o2.pkt[1].src)
    assert.is_nil(o2.pkt[1].puid)
  end)

  it("is not built when nobody handles it", function()
    local out = T.run { pcap = H.pcap("http-curl.pcap"), code = { "engine.on('flow.start', function() end)" } }
    assert.are.equal(0, out.stats.events_fired.packet)
    local out2 = T.run { pcap = H.pcap("http-curl.pcap"), code = { LOG_PACKETS } }
    assert.are.equal(out2.stats.packets, out2.stats.events_fired.packet)
  end)
end)
