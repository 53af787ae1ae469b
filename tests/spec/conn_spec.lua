-- logs/conn.lua: one record per flow, when it ends
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local CONN = H.script("logs/conn.lua")

describe("scripts/logs/conn.lua", function()
  local out
  setup(function()
    out = T.run { pcap = H.pcap("tcp-misc.pcap"), scripts = { CONN } }
  end)

  it("logs one record per connection of a capture", function()
    assert.are.equal(6, #out.conn)
  end)

  it("gives Zeek's conn_state for refused, aborted, closed and open connections", function()
    local want = { [9100] = "REJ", [9101] = "RSTO", [9102] = "SF", [9103] = "SF",
                   [9104] = "SF", [9105] = "S1" }
    for port, state in pairs(want) do
      local r = H.where(out.conn, { ["id.resp_p"] = port })
      assert.are.equal(1, #r, "port " .. port)
      assert.are.equal(state, r[1].conn_state, "port " .. port)
    end
  end)

  it("writes IPv6 addresses and the history letters", function()
    local r = H.where(out.conn, { ["id.resp_p"] = 9104 })[1]
    assert.are.equal("::1", r["id.orig_h"])
    assert.are.equal("::1", r["id.resp_h"])
    assert.are.equal("tcp", r.proto)
    assert.are.equal("ShADadFf", r.history)
    assert.are.equal(19 + 3000, r.orig_bytes)
  end)

  it("logs UDP flows with Zeek's D/d history letters and µs durations", function()
    local u = T.run { pcap = H.pcap("udp-dns-like.pcap"), scripts = { CONN } }
    assert.are.equal(4, #u.conn)
    for _, r in ipairs(u.conn) do
      assert.are.equal("udp", r.proto)
      assert.are.equal("Dd", r.history) -- both sides sent datagrams
      -- a duration in whole nanoseconds is the nearest double to its decimal
      assert.are.equal(r.duration, tonumber(string.format("%.9f", r.duration)))
    end
  end)

  it("takes ts from the flow start, and duration/bytes only when the flow lasted", function()
    local eng = T.load { CONN, start = 1000 }
    local flow = { orig_h = "10.1.1.1", orig_p = 5000, resp_h = "10.2.2.2", resp_p = 25,
                   orig_bytes = 10, resp_bytes = 20, state = "SF", history = "ShADadFf" }
    eng:fire("flow.start", {}, flow)
    eng:advance(2.5)
    eng:fire("flow.end", { reason = "closed" }, flow)
    -- a flow that starts and ends at once
    eng:fire("flow.end", { reason = "timeout" }, { orig_h = "10.9.9.9", proto = "udp", resp_p = 53 })
    local c = eng:records("conn")
    assert.are.equal(2, #c)
    assert.are.equal(1000, c[1].ts)
    assert.are.equal(2.5, c[1].duration)
    assert.are.equal(10, c[1].orig_bytes)
    assert.are.equal("SF", c[1].conn_state)
    assert.are.equal("ShADadFf", c[1].history)
    assert.is_nil(c[2].duration)
    assert.is_nil(c[2].orig_bytes)
    assert.are.equal("udp", c[2].proto)
  end)

  it("carries the service and the VLAN id", function()
    local eng = T.load { CONN }
    eng:fire("flow.end", { reason = "eof" }, { service = "smtp", vlan = 42, resp_p = 25 })
    local r = eng:records("conn")[1]
    assert.are.equal("smtp", r.service)
    assert.are.equal(42, r.vlan)
  end)

  it("lists the enclosing tunnel flows' uids in tunnel_parents, outermost first", function()
    local eng = T.load { CONN, start = 1000 }
    eng:fire("flow.end", { reason = "eof" },
             { orig_h = "10.1.1.1", tunnel_parents = "CAAAAAAAAAAAAAAAAA,CBBBBBBBBBBBBBBBBB" })
    eng:fire("flow.end", { reason = "eof" }, { orig_h = "10.3.3.3" })
    local c = eng:records("conn")
    assert.are.same({ "CAAAAAAAAAAAAAAAAA", "CBBBBBBBBBBBBBBBBB" }, c[1].tunnel_parents)
    assert.is_nil(c[2].tunnel_parents)
  end)

  it("logs the tunnels of a GRE/ERSPAN/VXLAN capture and the HTTP connection inside", function()
    local path = (os.getenv("PCAPS") or (H.home .. "/../shared/pcaps")) .. "/ja4/gre-erspan-vxlan.pcap"
    local f = io.open(path, "rb")
    if not f then
      pending("shared capture " .. path .. " not present")
      return
    end
    f:close()
    local u = T.run { pcap = path, scripts = { CONN } }
    assert.are.equal(3, #u.conn)
    local gre = H.where(u.conn, { proto = "gre" })[1]
    local vx = H.where(u.conn, { service = "vxlan" })[1]
    local http = H.where(u.conn, { ["id.resp_p"] = 80 })[1]
    assert.are.equal("gre", gre.service)
    assert.is_nil(gre.tunnel_parents)
    assert.are.same({ gre.uid }, vx.tunnel_parents)
    assert.are.same({ gre.uid, vx.uid }, http.tunnel_parents)
    assert.are.equal("SF", http.conn_state)
    assert.are.equal(4, http.orig_pkts)
    assert.are.equal(3, http.resp_pkts)
  end)

  it("logs ip_proto, and no local_orig/local_resp without net.local (Zeek's empty local_nets)", function()
    for _, r in ipairs(out.conn) do
      assert.are.equal(6, r.ip_proto)
      assert.is_nil(r.local_orig)
      assert.is_nil(r.local_resp)
    end
    local u = T.run { pcap = H.pcap("udp-dns-like.pcap"), scripts = { CONN } }
    assert.are.equal(17, u.conn[1].ip_proto)
  end)

  it("marks local_orig/local_resp from net.local, IPv4 and IPv6 prefixes", function()
    local o = T.run { pcap = H.pcap("tcp-misc.pcap"), scripts = { CONN },
                      config = { ["net.local"] = "10.0.0.0/8,::1/128" } }
    local v6, v4 = 0, 0
    for _, r in ipairs(o.conn) do
      local want = r["id.orig_h"] == "::1"
      if want then v6 = v6 + 1 else v4 = v4 + 1 end
      assert.are.equal(want, r.local_orig)
      assert.are.equal(r["id.resp_h"] == "::1", r.local_resp)
    end
    assert.is_true(v6 >= 1 and v4 >= 1)
    o = T.run { pcap = H.pcap("tcp-misc.pcap"), scripts = { CONN },
                config = { ["net.local"] = "127.0.0.0/9" } }
    for _, r in ipairs(o.conn) do
      assert.are.equal(r["id.orig_h"] == "127.0.0.1", r.local_orig)
    end
    o = T.run { pcap = H.pcap("tcp-misc.pcap"), scripts = { CONN },
                config = { ["net.local"] = "126.0.0.0/8" } }
    for _, r in ipairs(o.conn) do assert.is_false(r.local_orig) end
  end)

  -- Zeek's conn.log columns (docs.zeek.org, base/protocols/conn/main.zeek, Conn::Info, Zeek 8),
  -- then the policy scripts' ones; every Zeek column a Zeek user would see filled for this
  -- closed HTTP connection is in our record, the rest are listed with the reason they are absent
  local ZEEK_CONN = { "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
    "service", "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
    "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
    "tunnel_parents", "ip_proto",
    -- policy/protocols/conn/*: community-id-logging, mac-logging, vlan-logging, ip-proto-name-logging
    "community_id", "orig_l2_addr", "resp_l2_addr", "vlan", "inner_vlan", "ip_proto_name" }
  local ABSENT = {
    tunnel_parents = "only for a flow inside a tunnel (as Zeek)",
    vlan = "only for a VLAN-tagged flow (as Zeek's vlan-logging)",
    orig_l2_addr = "no layer-2 addresses kept", resp_l2_addr = "no layer-2 addresses kept",
    inner_vlan = "only the outermost VLAN tag is kept",
    ip_proto_name = "proto already names the transport",
  }
  it("has every Zeek conn.log column Zeek would fill, and none Zeek lacks", function()
    local o = T.run { pcap = H.pcap("http-curl.pcap"), scripts = { CONN },
                      config = { ["net.local"] = "127.0.0.0/8" } }
    assert.is_true(#o.conn >= 1)
    local known = {}
    for _, k in ipairs(ZEEK_CONN) do known[k] = true end
    for _, r in ipairs(o.conn) do
      for _, k in ipairs(ZEEK_CONN) do
        if not ABSENT[k] then assert.is_not_nil(r[k], "Zeek field " .. k) end
      end
      for k in pairs(r) do assert.is_true(known[k] == true, "not a Zeek field: " .. k) end
      assert.are.equal("http", r.service)
      assert.are.equal(true, r.local_orig)
      assert.are.equal(6, r.ip_proto)
      assert.is_true(r.orig_ip_bytes >= r.orig_bytes + 40 * r.orig_pkts)
    end
  end)
end)
