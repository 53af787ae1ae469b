-- engine/log.lua - JSON log streams (one object a line) for the engine module.
--
-- Each record is written with its fields in this order: _path (standard
-- output only), ts, uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, then the
-- stream's declared columns (engine.log_columns), then any other key sorted.
-- Strings go through lua-cjson, after invalid UTF-8 bytes were replaced by
-- the text \xNN (cjson would pass them through); cjson's "\/" becomes "/".
-- Integers print as integers, other numbers as Zeek's JSON writer prints them:
-- the shortest digits that read back to the same double, without an exponent
-- from 1e-6 to 1e21 (0.000097, not 9.7e-05; 1e-7 below). ts is a time rounded
-- to microseconds (six decimals at most, as Zeek reads captures). nil, NaN and
-- infinities are omitted.
local ffi = require "ffi"
local cjson = require("cjson").new()
local sbuffer = require "string.buffer"
-- taken before the sandbox (lua/engine/sandbox.lua) narrows what scripts may call
local io_open, os_rename = io.open, os.rename

local type, pairs, ipairs, tostring, tonumber, error = type, pairs, ipairs, tostring, tonumber, error
local find, format, gsub, concat, sort, byte = string.find, string.format, string.gsub, table.concat, table.sort, string.byte
local match, rep, sub = string.match, string.rep, string.sub
local next = next
local floor, huge = math.floor, math.huge
local cjson_encode = cjson.encode

local FIRST = { "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p" }
local IS_FIRST = {}
for _, k in ipairs(FIRST) do IS_FIRST[k] = true end

pcall(ffi.cdef, "int isatty(int fd);")

local M = {}

function M.new(opts)
  local C, B, outdir = opts.C, opts.B, opts.outdir
  local tsvmode -- nil until the first log opens: then log.format=tsv or not
  local types = {} -- engine.log_types: stream -> { column = Zeek type }
  local files, prefix, columns, colset = {}, {}, {}, {}
  local sbuf, sbuflen = nil, 0
  local stdout_tty
  local W = {}
  -- -j N: whole lines go to the workers' shared output (engine/workers.c)
  local sink, sink_flush, sink_user
  if opts.sink then
    sink = ffi.cast("int (*)(void *, const char *, size_t, const char *, size_t)", opts.sink)
    sink_flush = ffi.cast("int (*)(void *)", opts.sink_flush)
    sink_user = opts.sink_user
  end

  local function enc_str(s)
    if not find(s, '[%z\1-\31"\\/\128-\255]') then return '"' .. s .. '"' end
    if find(s, "[\128-\255]") then
      local n = C.lbr_ffi_utf8_check(s, #s)
      if n >= 0 then
        n = tonumber(n)
        if n > sbuflen then
          sbuflen = n < 4096 and 4096 or n
          sbuf = ffi.new("uint8_t[?]", sbuflen)
        end
        s = ffi.string(sbuf, C.lbr_ffi_utf8_sanitize(s, #s, sbuf))
      end
    end
    local j = cjson_encode(s)
    if find(j, "\\/", 1, true) then j = gsub(j, "\\/", "/") end
    return j
  end

  local keycache = {} -- ts, uid, id.* and declared columns only: bounded
  local function enc_key(k)
    local e = keycache[k]
    if not e then
      e = enc_str(k) .. ":"
      keycache[k] = e
    end
    return e
  end

  -- Zeek's JSON writer (rapidjson's Writer::Double) lays the shortest digits
  -- out without an exponent from 1e-6 up to 1e21: 9.7e-05 becomes 0.000097;
  -- below, it writes 1e-7 or 1.5e-300 (no "+", no leading zero in the exponent).
  local function zeek_exp(s)
    local sign, d1, rest, x = match(s, "^(%-?)(%d)%.?(%d*)e([-+]%d+)$")
    if not sign then return s end
    x = tonumber(x)
    if x < 0 and x >= -6 then return sign .. "0." .. rep("0", -x - 1) .. d1 .. rest end
    if rest ~= "" then rest = "." .. rest end
    return sign .. d1 .. rest .. "e" .. x
  end

  local function enc_num(v)
    if v == floor(v) and v >= -9007199254740992 and v <= 9007199254740992 then
      return format("%d", v)
    end
    if v ~= v or v == huge or v == -huge then return nil end
    local s = format("%.15g", v)
    if tonumber(s) ~= v then
      s = format("%.16g", v)
      if tonumber(s) ~= v then s = format("%.17g", v) end
    end
    if find(s, "e", 1, true) then s = zeek_exp(s) end
    return s
  end

  -- ts: a time as Zeek writes it from a capture (microseconds): rounded to six
  -- decimals, trailing zeros dropped (1795436983.71221, 1.5, 3)
  local function put_time(b, v)
    if v == floor(v) or v ~= v or v >= 1e15 or v <= -1e15 then
      local s = enc_num(v)
      if s then b:put(s) end
      return
    end
    local s = format("%.6f", v)
    local n = #s
    while byte(s, n) == 48 do n = n - 1 end
    if byte(s, n) == 46 then n = n - 1 end
    b:put(sub(s, 1, n))
  end

  -- Records are encoded straight into one reused string buffer (LuaJIT's
  -- string.buffer): no intermediate string per field, no table per record.
  -- Strings that need no escaping (the common case; "/" counts as plain, since
  -- the cjson path turns its "\/" back into "/") are checked with a byte loop
  -- the JIT compiles; the others take the cjson path above.
  local buf = sbuffer.new(1024)

  local function plain(s)
    local n = #s
    if n > 128 then return not find(s, '[%z\1-\31"\\\128-\255]') end
    for i = 1, n do
      local c = byte(s, i)
      if c < 32 or c == 34 or c == 92 or c >= 128 then return false end
    end
    return true
  end

  local function put_str(b, s)
    if plain(s) then b:put('"', s, '"') else b:put(enc_str(s)) end
  end

  -- whether v would be written (nil, NaN and infinities are omitted)
  local function skip(v)
    if v == nil then return true end
    if type(v) == "number" then return v ~= v or v == huge or v == -huge end
    if type(v) == "cdata" then
      local s = tostring(v)
      if s:match("^(%-?%d+)U?LL$") then return false end
      local n = tonumber(v)
      return n ~= nil and (n ~= n or n == huge or n == -huge)
    end
    return false
  end

  local put_value
  local function put_table(b, t, depth)
    if depth > 32 then error("engine.log: record nested too deeply (or cyclic)", 6 + 2 * depth) end
    local n = #t
    if n > 0 or next(t) == nil then
      b:put("[")
      for i = 1, n do
        if i > 1 then b:put(",") end
        local v = t[i]
        if skip(v) then b:put("null") else put_value(b, v, depth + 1) end
      end
      b:put("]")
      return
    end
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    b:put("{")
    local sep = ""
    for _, k in ipairs(keys) do
      local v = t[k]
      if v == nil then v = t[tonumber(k)] end
      if not skip(v) then
        b:put(sep)
        sep = ","
        put_str(b, k)
        b:put(":")
        put_value(b, v, depth + 1)
      end
    end
    b:put("}")
  end

  put_value = function(b, v, depth)
    local t = type(v)
    if t == "string" then
      if plain(v) then b:put('"', v, '"') else b:put(enc_str(v)) end
    elseif t == "number" then
      if v == floor(v) and v > -1e14 and v < 1e14 then
        if v == 0 then b:put("0") else b:put(v) end
      else
        b:put(enc_num(v))
      end
    elseif t == "boolean" then b:put(v and "true" or "false")
    elseif t == "table" then put_table(b, v, depth)
    elseif t == "cdata" then
      local s = tostring(v)
      local digits = s:match("^(%-?%d+)U?LL$")
      if digits then b:put(digits)
      else
        local n = tonumber(v)
        if n then b:put(enc_num(n)) else put_str(b, s) end
      end
    else
      error("engine.log: cannot log a " .. t .. " value", 5 + 2 * depth)
    end
  end

  local FIRSTENC = {}
  for i, k in ipairs(FIRST) do FIRSTENC[i] = enc_key(k) end
  local NFIRST = #FIRST
  local colenc = {}

  local function encode_into(b, stream, rec)
    b:put("{")
    local sep = ""
    local p = prefix[stream]
    if p then b:put(p); sep = "," end
    local ts = rec.ts
    if not skip(ts) then
      b:put(sep, FIRSTENC[1])
      sep = ","
      if type(ts) == "number" then put_time(b, ts) else put_value(b, ts, 0) end
    end
    for i = 2, NFIRST do
      local v = rec[FIRST[i]]
      if not skip(v) then
        b:put(sep, FIRSTENC[i])
        sep = ","
        put_value(b, v, 0)
      end
    end
    local cols, cs = columns[stream], colset[stream]
    if cols then
      local ce = colenc[stream]
      for i = 1, #cols do
        local v = rec[cols[i]]
        if not skip(v) then
          b:put(sep, ce[i])
          sep = ","
          put_value(b, v, 0)
        end
      end
    end
    local rest
    for k in pairs(rec) do
      if not IS_FIRST[k] and not (cs and cs[k]) then
        rest = rest or {}
        rest[#rest + 1] = k
      end
    end
    if rest then
      for i, k in ipairs(rest) do rest[i] = tostring(k) end
      sort(rest)
      for _, k in ipairs(rest) do
        local v = rec[k]
        if v == nil then v = rec[tonumber(k)] end
        if not skip(v) then
          b:put(sep)
          sep = ","
          put_str(b, k)
          b:put(":")
          put_value(b, v, 0)
        end
      end
    end
    b:put("}\n")
  end

  local function encode(stream, rec)
    buf:reset()
    encode_into(buf, stream, rec)
    return (buf:tostring()) -- not a tail call: LuaJIT does not compile a tail call of a builtin at a trace's base
  end

  local function failed(msg)
    C.lbr_ffi_fail(B, msg)
    error(msg, 0)
  end

  -- the first record of a stream opens it. No function on this path creates a
  -- closure but these two: LuaJIT puts an upvalue close (UCLO, not compiled)
  -- before every return of a function that creates closures, and a trace that
  -- runs into one is aborted
  local function tsv_json(v) local jb = sbuffer.new(); put_value(jb, v, 0); return (jb:tostring()) end
  local function tsv_warn(msg) io.stderr:write("engine: warning: ", msg, "\n") end
  local function isatty1() return ffi.C.isatty(1) == 1 end

  local function open(stream)
    local f
    if type(stream) ~= "string" or not find(stream, "^[%w_][%w_%-%.]*$") then
      error("engine.log: bad stream name '" .. tostring(stream) .. "' (letters, digits, _ - .)", 3)
    end
    if tsvmode == nil then
      local fmt = opts.config and opts.config("log.format")
      if fmt == nil or fmt == "json" then tsvmode = false
      elseif fmt == "tsv" then tsvmode = true
      else failed("log.format: expected json or tsv, not '" .. tostring(fmt) .. "'") end
      if tsvmode and not outdir then failed("log.format=tsv writes files: give -o DIR") end
    end
    if sink and tsvmode then failed("log.format=tsv does not work with -j N yet: use -j 1") end
    if sink then
      f = { sink = true, path = outdir and (outdir .. "/" .. stream .. ".log") or "standard output" }
      if not outdir then prefix[stream] = '"_path":' .. enc_str(stream) end
    elseif outdir then
      local path = outdir .. "/" .. stream .. ".log"
      local fh, err = io_open(path, "w")
      if not fh then failed("cannot open log " .. (err or path)) end
      fh:setvbuf("full", 65536)
      f = { fh = fh, path = path, opened = opts.now and opts.now() or 0 }
      if tsvmode then
        f.tsv = require("engine.log_tsv").new { fh = fh, path = path, stream = stream,
          columns = columns[stream], types = types[stream], C = C,
          json = tsv_json, warn = tsv_warn }
      end
    else
      -- a terminal sees every record at once; a pipe or file gets whole buffers
      -- (and, live, a flush every second from the C side)
      if stdout_tty == nil then
        local ok, r = pcall(isatty1)
        stdout_tty = ok and r
        if stdout_tty then io.stdout:setvbuf("line") end
      end
      f = { fh = io.stdout, path = "standard output" }
      prefix[stream] = '"_path":' .. enc_str(stream)
    end
    files[stream] = f
    return f
  end

  local function out(stream)
    local f = files[stream]
    if f then return f end
    return open(stream)
  end

  function W.write(stream, rec)
    if type(rec) ~= "table" then error("engine.log(stream, record): record must be a table", 2) end
    local f = out(stream)
    if f.tsv then
      local ok, err = f.tsv.write(rec)
      if not ok then failed("cannot write " .. f.path .. ": " .. tostring(err)) end
      return
    end
    local line = encode(stream, rec)
    if f.sink then
      if sink(sink_user, stream, #stream, line, #line) ~= 0 then failed("cannot write " .. f.path) end
      return
    end
    local ok, err = f.fh:write(line)
    if not ok then failed("cannot write " .. f.path .. ": " .. tostring(err)) end
  end

  -- declare the column order of a stream (after ts/uid/id.*); other keys follow sorted
  function W.columns(stream, cols)
    if type(cols) ~= "table" then error("engine.log_columns(stream, columns): columns must be a list", 2) end
    local list, set = {}, {}
    for _, c in ipairs(cols) do
      if not IS_FIRST[c] and not set[c] then list[#list + 1] = c; set[c] = true end
    end
    local enc = {}
    for i, c in ipairs(list) do enc[i] = enc_key(c) end
    columns[stream], colset[stream], colenc[stream] = list, set, enc
  end

  function W.flush()
    if sink then
      if sink_flush(sink_user) ~= 0 then failed("cannot write the logs") end
      return
    end
    for _, f in pairs(files) do
      local ok, err = f.fh:flush()
      if not ok then failed("cannot write " .. f.path .. ": " .. tostring(err)) end
    end
  end

  function W.close()
    if sink then
      for st in pairs(files) do files[st] = nil end
      if sink_flush(sink_user) ~= 0 then failed("cannot write the logs") end
      return
    end
    local errs = {}
    for s, f in pairs(files) do
      local ok, err
      if f.tsv then ok, err = f.tsv.footer() else ok = true end
      if not ok then
        errs[#errs + 1] = "cannot write " .. f.path .. ": " .. tostring(err)
      elseif f.fh == io.stdout then ok, err = f.fh:flush() else ok, err = f.fh:close() end
      if not ok then errs[#errs + 1] = "cannot write " .. f.path .. ": " .. tostring(err) end
      files[s] = nil
    end
    if #errs > 0 then
      C.lbr_ffi_fail(B, errs[1])
      error(concat(errs, "; "), 0)
    end
  end

  -- Zeek types of a stream's columns for log.format=tsv (time, interval, count, int,
  -- double, string, addr, port, bool, enum, set[string], vector[count], ...)
  function W.types(stream, map)
    if type(map) ~= "table" then error("engine.log_types(stream, types): types must be a table", 2) end
    local t = {}
    for k, v in pairs(map) do
      if type(v) ~= "string" or not v:match("^[%a_]+$") and not v:match("^%a+%[[%a_]+%]$") then
        error("engine.log_types: bad type for '" .. tostring(k) .. "'", 2)
      end
      t[tostring(k)] = v
    end
    types[stream] = t
  end

  -- log.rotate: close every file of -o DIR and rename it with its time span,
  -- in the pattern Zeek's archiver reads: conn__2026-12-03-15-00-00__2026-12-03-16-00-00__.log
  -- (local time, Zeek's default_rotation_date_format); the next record opens a new file.
  local function span_name(stream, t0, t1)
    local d = "%Y-%m-%d-%H-%M-%S"
    return outdir .. "/" .. stream .. "__" .. os.date(d, floor(t0)) .. "__" .. os.date(d, floor(t1)) .. "__.log"
  end

  function W.rotate(now)
    if not outdir then return end
    local streams = {}
    for s in pairs(files) do streams[#streams + 1] = s end
    sort(streams)
    for _, s in ipairs(streams) do
      local f = files[s]
      local ok, err = true, nil
      if f.tsv then ok, err = f.tsv.footer() end
      if ok then ok, err = f.fh:close() end
      files[s] = nil
      if not ok then failed("cannot write " .. f.path .. ": " .. tostring(err)) end
      local dst = span_name(s, f.opened, now)
      local rok, rerr = os_rename(f.path, dst)
      if not rok then failed("cannot rename " .. f.path .. ": " .. tostring(rerr)) end
    end
  end

  W.encode = encode
  return W
end

return M
