-- dump_streams.lua: write every TCP flow's reassembled bytes, per direction, as hex.
--
--   engine -r F -s tests/e2e/dump_streams.lua --set test.outdir=DIR
--   (or DUMP_OUTDIR=DIR in the environment)
--
-- DIR/streams.txt gets one line per flow direction, in flow-end order:
--   S <orig_h> <orig_p> <resp_h> <resp_p> <dir> <hex of the bytes, in order>
-- and one line per problem found:
--   E <orig_h> <orig_p> <resp_h> <resp_p> <dir> <message>
-- (a tcp.data offset that does not continue the previous one, a tcp.gap).
local engine = require "engine"

engine.config_key("test.outdir", nil, "test harness: where the fields are written")
local outdir = engine.config["test.outdir"] or os.getenv("DUMP_OUTDIR")
assert(outdir, "dump_streams.lua: set test.outdir (--set test.outdir=DIR) or DUMP_OUTDIR")
local out = assert(io.open(outdir .. "/streams.txt", "w"))

local flows = {} -- uid -> { tuple = "...", orig = {chunks}, resp = {chunks}, next = {orig=, resp=} }

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function state(flow)
  local st = flows[flow.uid]
  if not st then
    st = {
      tuple = string.format("%s %d %s %d", flow.orig_h, flow.orig_p, flow.resp_h, flow.resp_p),
      orig = {}, resp = {}, next = { orig = 0, resp = 0 }, errs = {},
    }
    flows[flow.uid] = st
  end
  return st
end

engine.on("tcp.data", function(flow, ev)
  local st = state(flow)
  local dir = ev.dir
  if ev.offset ~= st.next[dir] then
    st.errs[#st.errs + 1] = string.format("%s offset %d, expected %d", dir, ev.offset, st.next[dir])
  end
  local data = ev.data
  st.next[dir] = ev.offset + #data
  local t = st[dir]
  t[#t + 1] = hex(data)
end)

engine.on("tcp.gap", function(flow, ev)
  local st = state(flow)
  st.errs[#st.errs + 1] = string.format("%s gap at %d, %d bytes", ev.dir, ev.offset, ev.len)
  st.next[ev.dir] = ev.offset + ev.len
end)

local function flush(uid, st)
  for _, dir in ipairs { "orig", "resp" } do
    out:write("S ", st.tuple, " ", dir, " ", table.concat(st[dir]), "\n")
  end
  for _, e in ipairs(st.errs) do
    out:write("E ", st.tuple, " ", e, "\n")
  end
  flows[uid] = nil
end

engine.on("flow.end", function(flow, ev)
  if flow.proto ~= "tcp" then return end
  flush(flow.uid, state(flow))
end)

engine.on("engine.done", function()
  local uids = {}
  for uid in pairs(flows) do uids[#uids + 1] = uid end
  table.sort(uids)
  for _, uid in ipairs(uids) do
    flows[uid].errs[#flows[uid].errs + 1] = "flow never ended (no flow.end event)"
    flush(uid, flows[uid])
  end
  out:close()
end)
