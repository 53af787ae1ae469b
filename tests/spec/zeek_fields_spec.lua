-- Zeek's smtp.log and http.log fields against our records, on captures made with real
-- programs (tests/tools/make-zeek-fields-pcaps.sh): the records a Zeek user expects,
-- and a golden comparison of field lists. The lists are those of Zeek's documentation
-- (SMTP::Info of base/protocols/smtp/main.zeek with the fields files.zeek (fuids) and
-- software.zeek (is_webmail) add; HTTP::Info of base/protocols/http/main.zeek with
-- entities.zeek's orig_/resp_ fuids, filenames and mime_types). Every field Zeek has is
-- either in our record where Zeek would fill it, or listed in ABSENT with the reason.
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T
local SMTP, HTTP, WEIRD = H.script("logs/smtp.lua"), H.script("logs/http.lua"), H.script("logs/weird.lua")

local ZEEK_SMTP = {
  "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_depth", "helo",
  "mailfrom", "rcptto", "date", "from", "to", "cc", "reply_to", "msg_id", "in_reply_to",
  "subject", "x_originating_ip", "first_received", "second_received", "last_reply", "path",
  "user_agent", "tls", "fuids", "is_webmail",
}
local ZEEK_HTTP = {
  "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_depth", "method",
  "host", "uri", "referrer", "version", "user_agent", "origin", "request_body_len",
  "response_body_len", "status_code", "status_msg", "info_code", "info_msg", "tags",
  "username", "password", "proxied", "orig_fuids", "orig_filenames", "orig_mime_types",
  "resp_fuids", "resp_filenames", "resp_mime_types",
}
-- fields Zeek has that our records leave out on purpose, with the reason
local ABSENT = {
  http = {
    tags = "Zeek's base scripts add no tag (an empty set); no script of ours tags requests",
    referrer = "the captured requests send no Referer (filled when they do: ev.referrer)",
    orig_filenames = "curl's form body has no file name (filled from file.begin when it does)",
    resp_filenames = "no Content-Disposition in these responses (filled when there is)",
  },
  smtp = {},
}
-- fields we add that Zeek's log does not have
local EXTRA = { smtp = { user = "the user of the last successful AUTH" }, http = {} }

-- every field of `zeek` is in one of the records or in ABSENT[stream]; every field of
-- the records is Zeek's or in EXTRA[stream]
local function golden(stream, zeek, recs, skip)
  local seen = {}
  for _, r in ipairs(recs) do for k in pairs(r) do seen[k] = true end end
  local known = {}
  for _, f in ipairs(zeek) do
    known[f] = true
    if not (skip and skip[f]) then
      assert(seen[f] or ABSENT[stream][f], stream .. ": Zeek's field " .. f .. " is neither logged nor listed as absent")
      assert(not (seen[f] and ABSENT[stream][f]), stream .. ": " .. f .. " is listed as absent but logged")
    end
  end
  for k in pairs(seen) do
    assert(known[k] or EXTRA[stream][k], stream .. ": field " .. k .. " is not Zeek's nor listed as ours")
  end
end

describe("Zeek's smtp.log fields", function()
  it("follows RFC 5321 transactions through invalid sequences, with the weirds", function()
    local pcap = H.need_pcap("smtp-python-invalid.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { SMTP, WEIRD } }
    local s = out.smtp
    assert.are.equal(3, #s)
    -- 1: MAIL, RCPT, a refused second MAIL, RSET: ended without a message; the RCPT
    --    sent before any MAIL (refused) is in no record
    assert.are.same({ 1, "alice@a.test", { "bob@b.test" }, "250 OK" },
      { s[1].trans_depth, s[1].mailfrom, s[1].rcptto, s[1].last_reply })
    assert.is_nil(s[1].subject)
    -- 2: the refused recipient and the repeated one are not in rcptto
    local m = s[2]
    assert.are.same({ "carol@b.test", "dave@b.test" }, m.rcptto)
    assert.are.equal("250 2.0.0 Ok: queued as 498", m.last_reply)
    assert.are.same({ "Bob <bob@b.test>", "\"Carol, C.\" <carol@b.test>" }, m.to)
    assert.are.same({ "dave@b.test", "Bob <bob@b.test>" }, m.cc)
    assert.are.equal("replies@a.test", m.reply_to)
    assert.are.equal("<orig-1@b.test>", m.in_reply_to)
    assert.are.equal("<inv-1@a.test>", m.msg_id)
    assert.are.equal("203.0.113.9", m.x_originating_ip)
    assert.are.same({ "127.0.0.1", "127.0.0.1", "192.0.2.7", "198.51.100.20" }, m.path)
    assert.matches("^from %[10%.1%.2%.3%]", m.first_received)
    assert.matches("^from relay%.b%.test", m.second_received)
    assert.are.equal("Roundcube Webmail/1.6.5", m.user_agent)
    assert.is_true(m.is_webmail)
    assert.is_false(m.tls)
    assert.are.equal(1, #m.fuids)
    -- 3: a transaction ended by RSET
    assert.are.same({ 3, "later@a.test", { "erin@b.test" } }, { s[3].trans_depth, s[3].mailfrom, s[3].rcptto })
    assert.is_nil(s[3].is_webmail)
    local names = {}
    for _, w in ipairs(out.weird) do names[#names + 1] = w.name end
    assert.are.same({ "smtp_mail_transaction_invalid", "smtp_nested_mail_transaction" }, names)
    golden("smtp", ZEEK_SMTP, s)
  end)

  it("has every Zeek field on the existing SMTP captures too (no weird on valid sessions)", function()
    for _, name in ipairs { "smtp-python.pcap", "smtp-python-two.pcap", "smtp-swaks-login-pipe.pcap" } do
      local out = T.run { pcap = H.pcap(name), scripts = { SMTP, WEIRD } }
      assert.is_true(#out.smtp >= 1, name)
      assert.are.equal(0, #out.weird, name)
      for _, r in ipairs(out.smtp) do
        assert.matches("^250 ", r.last_reply, name)
        assert.are.equal(r["id.resp_h"], r.path[1])
      end
    end
  end)

  it("keeps a message's bytes with a MAIL whose reply comes after them (pipelined BDAT)", function()
    local eng = T.load { SMTP }
    local flow = { resp_p = 25, service = "smtp", orig_h = "10.0.0.1", resp_h = "10.0.0.2" }
    eng:fire("smtp.command", { verb = "MAIL", arg = "FROM:<a@x>" }, flow)
    eng:fire("smtp.mail_from", { addr = "a@x" }, flow)
    eng:fire("smtp.command", { verb = "RCPT", arg = "TO:<b@x>" }, flow)
    eng:fire("smtp.rcpt_to", { addr = "b@x" }, flow)
    eng:fire("mail.message", { subject = "s", to = "b@x" }, flow)
    eng:fire("smtp.reply", { code = 250, text = "ok", command = "MAIL" }, flow)
    eng:fire("smtp.reply", { code = 250, text = "ok", command = "RCPT" }, flow)
    eng:fire("smtp.reply", { code = 250, text = "queued", command = "BDAT", message_end = true }, flow)
    local r = eng:records("smtp")
    assert.are.equal(1, #r)
    assert.are.same({ "a@x", { "b@x" }, "s", "250 queued", { "10.0.0.2", "10.0.0.1" } },
      { r[1].mailfrom, r[1].rcptto, r[1].subject, r[1].last_reply, r[1].path })
  end)
end)

describe("Zeek's http.log fields", function()
  it("logs Basic auth, the last 1xx, Origin and proxy headers (no password by default)", function()
    local pcap = H.need_pcap("http-basic-info.pcap")
    if not pcap then return end
    local out = T.run { pcap = pcap, scripts = { HTTP } }
    local h = out.http
    assert.are.equal(2, #h)
    assert.are.same({ "POST", 200, 102, "Processing", "alice", "http://app.test" },
      { h[1].method, h[1].status_code, h[1].info_code, h[1].info_msg, h[1].username, h[1].origin })
    assert.is_nil(h[1].password)
    assert.are.same({ "GET", "bob", { "X-FORWARDED-FOR -> 192.0.2.44" } },
      { h[2].method, h[2].username, h[2].proxied })
    assert.is_nil(h[2].info_code)
    assert.is_nil(h[2].password)
    local with = T.run { pcap = pcap, scripts = { HTTP }, config = { ["http.capture_password"] = "true" } }
    assert.are.same({ "s3cret", "hunter2" }, { with.http[1].password, with.http[2].password })
    -- the golden list: password is Zeek's too, filled only with the setting
    local all = {}
    for _, r in ipairs(with.http) do all[#all + 1] = r end
    golden("http", ZEEK_HTTP, all)
  end)

  it("gives no username for another scheme and marks undecodable Basic credentials", function()
    local eng = T.load { HTTP }
    local flow = { resp_p = 80 }
    eng:fire("http.request", { method = "GET", uri = "/", version = "1.1",
      headers = { authorization = "Bearer abc" } }, flow)
    eng:fire("http.request", { method = "GET", uri = "/", version = "1.1",
      headers = { authorization = "Basic bm9jb2xvbg==" } }, flow) -- "nocolon"
    eng:fire("flow.end", { reason = "eof" }, flow)
    local r = eng:records("http")
    assert.are.equal(2, #r)
    assert.is_nil(r[1].username)
    assert.matches("^<problem%-decoding> %(Basic ", r[2].username)
  end)
end)
