-- mail.message_done (decoders/mime.c, for SMTP, POP3 and IMAP): fired once a
-- message, after every file.done of its files, listing their fuids in order
local H = dofile((debug.getinfo(1, "S").source:sub(2):gsub("[^/]*$", "")) .. "helper.lua")
local T = H.T

-- a policy that logs, in order, each file.done and each mail.message_done
local ORDER = [[
local engine = require "engine"
local n = 0
engine.on("file.done", function(flow, ev)
  n = n + 1
  engine.log("order", { n = n, what = "file", fuid = ev.fuid, uid = flow and flow.uid })
end)
engine.on("mail.message_done", function(flow, ev)
  n = n + 1
  local f = {}
  for i = 1, #ev.fuids do f[i] = ev.fuids[i] end
  engine.log("order", { n = n, what = "message", fuids = table.concat(f, " "), files = ev.files,
                        parts = ev.parts, size = ev.size, dir = ev.dir, uid = flow and flow.uid })
end)
]]

local function check(pcap, messages, dir)
  local path = H.need_pcap(pcap)
  if not path then return end
  local out = T.run { pcap = path, code = { ORDER } }
  local seen, msgs = {}, 0
  local pending = {} -- fuids done and not yet claimed by a message, per uid
  for _, r in ipairs(out.order) do
    if r.what == "file" then
      pending[r.uid] = pending[r.uid] or {}
      table.insert(pending[r.uid], r.fuid)
    else
      msgs = msgs + 1
      assert.are.equal(dir, r.dir)
      assert.matches("^C", r.uid)
      -- every fuid it lists already had its file.done, on the same flow, in order
      local listed = {}
      for f in r.fuids:gmatch("%S+") do listed[#listed + 1] = f end
      assert.are.equal(r.files, #listed)
      assert.are.same(pending[r.uid] or {}, listed)
      for _, f in ipairs(listed) do
        assert.is_nil(seen[f]) -- no file belongs to two messages
        seen[f] = true
      end
      pending[r.uid] = {}
      assert.is_true(r.parts >= 1 and r.size > 0)
    end
  end
  assert.are.equal(messages, msgs)
  for _, left in pairs(pending) do assert.are.equal(0, #left) end -- no file after its message
end

describe("mail.message_done", function()
  it("follows every file.done of an SMTP message", function() check("smtp-python-two.pcap", 2, "orig") end)
  it("follows the attachments of a swaks message", function() check("smtp-swaks-attach.pcap", 1, "orig") end)
  it("follows every file.done of POP3 RETRs", function() check("pop3-dovecot.pcap", 3, "resp") end)
  it("follows every file.done of IMAP FETCHes", function() check("imap-dovecot.pcap", 4, "resp") end)

  it("lists the fuids even when only file.done and mail.message_done are subscribed", function()
    local out = T.run { pcap = H.pcap("smtp-swaks-attach.pcap"), code = { ORDER } }
    local m = H.where(out.order, { what = "message" })
    assert.are.equal(1, #m)
    assert.are.equal(2, m[1].files)
    assert.are.equal(3, m[1].parts) -- multipart/mixed, the text, the attachment
  end)
end)
