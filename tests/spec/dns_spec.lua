-- logs/dns.lua: one dns.log record per query with its answer
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local DNS = H.script("logs/dns.lua")

local UDP = { proto = "udp", resp_p = 53, service = "dns" }

local function answer(id, qname, rcode, answers, rtt, extra)
  local ev = { id = id, qname = qname, qtype = "A", rcode = rcode or "NOERROR", aa = false, tc = false,
               rd = true, ra = true, ad = false, cd = false, answers = answers or {}, authority = {},
               additional = {}, rtt = rtt }
  for k, v in pairs(extra or {}) do ev[k] = v end
  return ev
end
local function rr(data, ttl) return { name = "x", type = "A", class = "IN", ttl = ttl or 60, data = data } end

describe("scripts/logs/dns.lua", function()
  it("logs every query of a real capture (dnsmasq, dig) with its answer", function()
    local pcap = H.need_pcap("dns-dnsmasq-udp.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { DNS } }
    assert.are.equal(19, #out.dns)
    local a = H.where(out.dns, { query = "alias.test", qtype_name = "A" })[1]
    assert.are.same({ "alias2.test", "www.test", "192.0.2.1" }, a.answers)
    assert.are.same({ 300, 300, 300 }, a.TTLs)
    assert.are.equal("udp", a.proto)
    assert.are.equal("C_INTERNET", a.qclass_name)
    assert.are.equal("NOERROR", a.rcode_name)
    assert.is_true(a.AA and a.RD and a.RA)
    assert.is_false(a.TC)
    assert.are.equal(0, a.Z)
    assert.is_false(a.rejected)
    assert.is_true(a.rtt > 0 and a.rtt < 1)
    local nx = H.where(out.dns, { query = "nothing.test" })[1]
    assert.are.equal("NXDOMAIN", nx.rcode_name)
    assert.is_false(nx.rejected) -- dnsmasq's NXDOMAIN carries an OPT record: Zeek's rule
    assert.is_nil(nx.answers)
    local never = H.where(out.dns, { query = "never.test" })[1]
    assert.is_nil(never.rcode_name)
    assert.is_nil(never.rtt)
    assert.is_false(never.rejected)
    local https = H.where(out.dns, { qtype_name = "HTTPS" })[1]
    assert.are.same({ '1 . alpn="h2,h3" port=443 ipv4hint=192.0.2.1' }, https.answers)
  end)

  it("makes two records of a truncated UDP answer and its TCP retry", function()
    local pcap = H.need_pcap("dns-dnsmasq-tc.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { DNS } }
    assert.are.equal(2, #out.dns)
    local u, t = H.where(out.dns, { proto = "udp" })[1], H.where(out.dns, { proto = "tcp" })[1]
    assert.is_true(u.TC)
    assert.is_nil(u.answers)
    assert.is_false(t.TC)
    assert.are.equal(1, #t.answers)
    assert.matches('^"string%-01%-', t.answers[1])
    assert.are_not.equal(u.uid, t.uid)
  end)

  it("takes ts from the query and rtt from the answer", function()
    local eng = T.load { DNS, start = 1000 }
    eng:fire("dns.query", { id = 5, qname = "a.example", qtype = "AAAA", qclass = "IN", rd = true, z = 0 }, UDP)
    eng:advance(0.25)
    eng:fire("dns.answer", answer(5, "a.example", "NOERROR", { rr("2001:db8::1", 30) }, 0.25), UDP)
    local r = eng:records("dns")
    assert.are.equal(1, #r)
    assert.are.equal(1000, r[1].ts)
    assert.are.equal(0.25, r[1].rtt)
    assert.are.equal("AAAA", r[1].qtype_name)
    assert.are.same({ "2001:db8::1" }, r[1].answers)
    assert.are.same({ 30 }, r[1].TTLs)
    eng:close()
  end)

  it("pairs a response seen before its query into one record", function()
    local eng = T.load { DNS, start = 1000 }
    eng:fire("dns.answer", answer(9, "b.example", "SERVFAIL"), UDP)
    assert.are.equal(0, #eng:records("dns"))
    eng:advance(0.1)
    eng:fire("dns.query", { id = 9, qname = "B.example", qtype = "A", qclass = "IN", rd = true, z = 0 }, UDP)
    local r = eng:records("dns")
    assert.are.equal(1, #r)
    assert.are.equal("SERVFAIL", r[1].rcode_name)
    assert.is_true(r[1].rejected)
    assert.are.equal("B.example", r[1].query)
    eng:finish()
    assert.are.equal(1, #eng:records("dns"))
    eng:close()
  end)

  it("writes unanswered queries and lone responses at the flow's end, in time order", function()
    local eng = T.load { DNS, start = 1000 }
    eng:fire("dns.query", { id = 1, qname = "q1", qtype = "A", qclass = "IN", rd = true, z = 0 }, UDP)
    eng:advance(1)
    eng:fire("dns.answer", answer(2, "q2"), UDP)
    eng:advance(1)
    eng:fire("dns.query", { id = 3, qname = "q3", qtype = "A", qclass = "CH", rd = false, z = 0 }, UDP)
    eng:fire("flow.end", { reason = "timeout" }, UDP)
    local r = eng:records("dns")
    assert.are.equal(3, #r)
    assert.are.same({ "q1", "q2", "q3" }, { r[1].query, r[2].query, r[3].query })
    assert.is_nil(r[1].rcode_name)
    assert.are.equal("NOERROR", r[2].rcode_name)
    assert.are.equal("C_CHAOS", r[3].qclass_name)
    eng:close()
  end)

  it("writes a query once it is older than dns.query_timeout", function()
    local eng = T.load { DNS, start = 1000, config = { ["dns.query_timeout"] = 2 } }
    eng:fire("dns.query", { id = 1, qname = "slow", qtype = "A", qclass = "IN", rd = true, z = 0 }, UDP)
    eng:advance(3)
    eng:fire("dns.query", { id = 2, qname = "next", qtype = "A", qclass = "IN", rd = true, z = 0 }, UDP)
    local r = eng:records("dns")
    assert.are.equal(1, #r)
    assert.are.equal("slow", r[1].query)
    assert.are.equal(1000, r[1].ts)
    eng:close()
  end)

  it("bounds what waits, per flow and in all flows", function()
    local eng = T.load { DNS, start = 1000, config = { ["dns.max_pending"] = 3, ["dns.max_pending_total"] = 5 } }
    for i = 1, 10 do
      eng:fire("dns.query", { id = i, qname = "f" .. i, qtype = "A", qclass = "IN", rd = true, z = 0 }, UDP)
    end
    -- one flow: the 7 oldest were written as they were pushed out
    assert.are.equal(7, #eng:records("dns"))
    for p = 1, 4 do
      local flow = { proto = "udp", orig_p = 1000 + p, resp_p = 53 }
      eng:fire("dns.query", { id = p, qname = "g" .. p, qtype = "A", qclass = "IN", rd = true, z = 0 }, flow)
    end
    -- 3 + 4 = 7 waiting, 5 allowed: the 2 oldest of all go
    local r = eng:records("dns")
    assert.are.equal(9, #r)
    assert.are.equal("f8", r[8].query)
    assert.are.equal("f9", r[9].query)
    eng:finish()
    assert.are.equal(14, #eng:records("dns"))
    eng:close()
  end)

  it("keeps at most dns.max_pending_total waiting with many queries never answered", function()
    local eng = T.load { DNS, start = 1000, config = { ["dns.max_pending_total"] = 1000 } }
    for i = 1, 20000 do
      eng:fire("dns.query", { id = i % 65536, qname = "x" .. i, qtype = "A", qclass = "IN", rd = true, z = 0 },
        { proto = "udp", orig_p = 1024 + i % 2000, resp_p = 53 })
    end
    -- everything beyond the bound was written (oldest first), 1000 still wait
    local r = eng:records("dns")
    assert.are.equal(19000, #r)
    assert.are.equal("x1", r[1].query)
    assert.are.equal("x19000", r[19000].query)
    eng:finish()
    assert.are.equal(20000, #eng:records("dns"))
    eng:close()
  end)
  it("frees the bookkeeping of answered and evicted queries (memory stays flat in one flow)", function()
    -- before the fix every query left an item in the all-flows list for good
    -- when the total bound was never reached: 100k queries in one flow grew
    -- the Lua heap by ~150 MB
    local MEM = [[
      local engine = require "engine"
      engine.on("ftp.command", function()
        collectgarbage(); collectgarbage()
        engine.log("mem", { kb = collectgarbage("count") })
      end)
    ]]
    local eng = T.load { DNS, code = MEM, start = 1000 }
    local flow = { proto = "udp", orig_p = 40000, resp_p = 53 }
    local function burst(from, to)
      for i = from, to do
        local q = { id = i % 65536, qname = "q" .. i, qtype = "A", qclass = "IN", rd = true, z = 0 }
        eng:fire("dns.query", q, flow)
        -- every third answered, the rest evicted by dns.max_pending (64)
        if i % 3 == 0 then eng:fire("dns.answer", answer(i % 65536, "q" .. i, "NOERROR", {}, 0.01), flow) end
      end
      eng:fire("ftp.command", { command = "NOOP", arg = "" }, false)
    end
    burst(1, 2000)
    burst(2001, 22000)
    local m = eng:records("mem")
    assert.are.equal(2, #m)
    assert.is_true(m[2].kb - m[1].kb < 1024, ("Lua heap grew by %d KB"):format(m[2].kb - m[1].kb))
    assert.is_true(#eng:records("dns") >= 21900)
    eng:close()
  end)
end)
