-- logs/sip.lua: one record per SIP transaction, in request order
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local SIP = H.script("logs/sip.lua")

local function req(method, cseq, branch, extra)
  local ev = { method = method, uri = "sip:bob@b.example", call_id = "c1@a",
    from = "<sip:alice@a.example>;tag=1", to = "<sip:bob@b.example>", cseq = cseq,
    branch = branch, headers = { via = "SIP/2.0/UDP a.example;branch=" .. branch } }
  for k, v in pairs(extra or {}) do ev[k] = v end
  return ev
end
local function resp(status, cseq, branch)
  return { status = status, reason = "R" .. status, call_id = "c1@a", cseq = cseq, branch = branch,
    from = "<sip:alice@a.example>;tag=1", to = "<sip:bob@b.example>;tag=2",
    headers = { via = "SIP/2.0/UDP a.example;branch=" .. branch, ["content-length"] = "0" } }
end

describe("scripts/logs/sip.lua", function()
  for _, c in ipairs { { "sip-udp-call.pcap", 5080 }, { "sip-tcp-call.pcap", 5060 } } do
    it("logs the three transactions of a real call in " .. c[1], function()
      local pcap = H.need_pcap(c[1])
      if not pcap then return end
      local out = T.run { pcap = pcap, scripts = { SIP } }
      local r = out.sip
      assert.are.equal(3, #r)
      local want = { { "INVITE", 200, "1 INVITE" }, { "ACK", nil, "1 ACK" }, { "BYE", 200, "2 BYE" } }
      for i, w in ipairs(want) do
        assert.are.equal(i, r[i].trans_depth)
        assert.are.equal(w[1], r[i].method)
        assert.are.equal(w[2], r[i].status_code)
        assert.are.equal(w[3], r[i].seq)
        assert.are.equal(c[2], r[i]["id.resp_p"])
        assert.are.equal("call-" .. (c[2] == 5060 and "tcp" or "udp") .. "-4711@127.0.0.1", r[i].call_id)
      end
      assert.are.equal("sip-call.py UAC", r[1].user_agent)
      assert.are.equal("application/sdp", r[1].content_type)
      assert.are.equal("<sip:bob@127.0.0.1:" .. c[2] .. ">;tag=b0b", r[1].to)
    end)
  end

  it("pairs by Call-ID, CSeq and branch, keeps request order and skips retransmissions", function()
    local eng = T.load { SIP }
    local flow = { resp_p = 5060, service = "sip" }
    eng:fire("sip.request", req("INVITE", "1 INVITE", "b1"), flow)
    eng:fire("sip.request", req("INVITE", "1 INVITE", "b1"), flow) -- retransmission
    eng:fire("sip.response", resp(100, "1 INVITE", "b1"), flow)
    eng:fire("sip.request", req("OPTIONS", "7 OPTIONS", "b2"), flow)
    eng:fire("sip.response", resp(200, "7 OPTIONS", "b2"), flow) -- complete, waits for INVITE
    assert.are.equal(0, #eng:records("sip"))
    eng:fire("sip.response", resp(486, "1 INVITE", "b1"), flow)
    eng:fire("sip.response", resp(486, "1 INVITE", "b1"), flow) -- retransmitted final
    local r = eng:records("sip")
    assert.are.equal(2, #r)
    assert.are.equal("INVITE", r[1].method)
    assert.are.equal(486, r[1].status_code)
    assert.are.equal("R486", r[1].reason)
    assert.are.equal(1, r[1].trans_depth)
    assert.are.equal("OPTIONS", r[2].method)
    assert.are.equal(200, r[2].status_code)
    assert.are.equal(2, r[2].trans_depth)
    eng:fire("sip.request", req("ACK", "1 ACK", "b1"), flow) -- no response: written at once
    assert.are.equal(3, #eng:records("sip"))
    assert.are.equal(nil, eng:records("sip")[3].status_code)
  end)

  it("writes unanswered transactions and lone responses at the end of the flow", function()
    local eng = T.load { SIP }
    local flow = { resp_p = 5060, service = "sip" }
    eng:fire("sip.request", req("INVITE", "1 INVITE", "b1"), flow)
    eng:fire("sip.response", resp(180, "1 INVITE", "b1"), flow)
    eng:fire("sip.response", resp(200, "9 BYE", "zz"), flow) -- its request was not seen
    eng:fire("flow.end", { reason = "timeout" }, flow)
    local r = eng:records("sip")
    assert.are.equal(2, #r)
    assert.are.equal(180, r[1].status_code)
    assert.are.equal("INVITE", r[1].method)
    assert.are.equal(nil, r[2].method)
    assert.are.equal(200, r[2].status_code)
    assert.are.equal("9 BYE", r[2].seq)
    assert.are.same({ "SIP/2.0/UDP a.example;branch=zz" }, r[2].response_path)
  end)
end)
