-- logs/files.lua - the files stream: one record per file (Zeek's files.log),
-- written at file.done. ts is the network time of the file's first byte (the
-- file.begin ts field, as in Zeek); is_orig says whether the originator sent
-- it; uid and id.* are those of the flow that carried the file, when there is
-- one. md5, sha1 and sha256 are digests of the
-- bytes seen: when missing_bytes > 0 they are not the digests of the file.
--
-- The other fields of Zeek's files.log: depth, analyzers, duration,
-- total_bytes (when the protocol announced a size) and extracted /
-- extracted_cutoff / extracted_size (with --set files.extract=DIR) come from
-- file.done; overflow_bytes is always 0 (the engine hands files their bytes in
-- order: what reassembly could not place is a gap, in missing_bytes) and
-- timedout always false (a file ends with its message or its flow; there is
-- no separate file inactivity timer). local_orig (no local networks are
-- configured) and parent_fuid (no container is unpacked) are never set.
local engine = require "engine"

engine.log_columns("files", {
  "fuid", "source", "depth", "analyzers", "mime_type", "filename", "duration", "is_orig",
  "seen_bytes", "total_bytes", "missing_bytes", "overflow_bytes", "timedout",
  "md5", "sha1", "sha256", "extracted", "extracted_cutoff", "extracted_size",
})

-- records of files that began and are not done yet (each file ends exactly
-- once, so this holds only the files open right now)
local open, seq = {}, 0

local function flow_ids(r, flow)
  if flow then
    r.uid = flow.uid
    r["id.orig_h"] = flow.orig_h
    r["id.orig_p"] = flow.orig_p
    r["id.resp_h"] = flow.resp_h
    r["id.resp_p"] = flow.resp_p
  end
  return r
end

engine.on("file.begin", function(flow, ev)
  seq = seq + 1
  local fuid = ev.fuid
  open[fuid] = flow_ids({
    _seq = seq,
    ts = ev.ts or engine.now(),
    fuid = fuid,
    source = ev.source,
    is_orig = ev.dir == "orig",
    mime_type = ev.mime_type,
    filename = ev.filename,
  }, flow)
end)

engine.on("file.done", function(flow, ev)
  local fuid = ev.fuid
  local r = open[fuid]
  if r then
    open[fuid] = nil
    r._seq = nil
  else
    r = flow_ids({ ts = engine.now(), fuid = fuid }, flow)
  end
  r.seen_bytes = ev.size
  r.missing_bytes = ev.missing_bytes
  r.md5 = ev.md5
  r.sha1 = ev.sha1
  r.sha256 = ev.sha256
  r.depth = ev.depth or 0
  local an = ev.analyzers
  if an and #an > 0 then
    local a = {}
    for i = 1, #an do a[i] = an[i] end
    r.analyzers = a
  end
  r.duration = ev.duration
  r.total_bytes = ev.total_bytes
  r.overflow_bytes = 0
  r.timedout = false
  r.extracted = ev.extracted
  r.extracted_cutoff = ev.extracted_cutoff
  r.extracted_size = ev.extracted_size
  engine.log("files", r)
end)

-- files still open at the end of input (a decoder should have ended them):
-- logged without sizes or digests rather than lost
engine.on("engine.done", function()
  local left = {}
  for fuid, r in pairs(open) do left[#left + 1] = r end
  table.sort(left, function(a, b) return a._seq < b._seq end)
  for _, r in ipairs(left) do
    r._seq = nil
    engine.log("files", r)
  end
  open = {}
end)
