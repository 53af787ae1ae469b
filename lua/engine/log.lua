-- engine/log.lua - JSON log streams (one object a line) for the engine module.
--
-- Each record is written with its fields in this order: _path (standard
-- output only), ts, uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, then the
-- stream's declared columns (engine.log_columns), then any other key sorted.
-- Strings go through lua-cjson, after invalid UTF-8 bytes were replaced by
-- the text \xNN (cjson would pass them through); cjson's "\/" becomes "/".
-- Integers print as integers, other numbers in the shortest form that reads
-- back to the same double (so microsecond timestamps survive). nil, NaN and
-- infinities are omitted.
local ffi = require "ffi"
local cjson = require("cjson").new()

local type, pairs, ipairs, tostring, tonumber, error = type, pairs, ipairs, tostring, tonumber, error
local find, format, gsub, concat, sort = string.find, string.format, string.gsub, table.concat, table.sort
local floor, huge = math.floor, math.huge
local cjson_encode = cjson.encode

local FIRST = { "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p" }
local IS_FIRST = {}
for _, k in ipairs(FIRST) do IS_FIRST[k] = true end

local M = {}

function M.new(opts)
  local C, B, outdir = opts.C, opts.B, opts.outdir
  local files, prefix, columns, colset = {}, {}, {}, {}
  local sbuf, sbuflen = nil, 0
  local W = {}

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
    return s
  end

  local enc_value
  local function enc_table(t, depth)
    if depth > 32 then error("engine.log: record nested too deeply (or cyclic)", 4) end
    local n = #t
    if n > 0 or next(t) == nil then
      local parts = {}
      for i = 1, n do parts[i] = enc_value(t[i], depth + 1) or "null" end
      return "[" .. concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
      local v = t[k]
      if v == nil then v = t[tonumber(k)] end
      local e = enc_value(v, depth + 1)
      if e then parts[#parts + 1] = enc_str(k) .. ":" .. e end
    end
    return "{" .. concat(parts, ",") .. "}"
  end

  enc_value = function(v, depth)
    local t = type(v)
    if t == "string" then return enc_str(v)
    elseif t == "number" then return enc_num(v)
    elseif t == "boolean" then return v and "true" or "false"
    elseif t == "table" then return enc_table(v, depth)
    elseif t == "cdata" then
      local s = tostring(v)
      local digits = s:match("^(%-?%d+)U?LL$")
      if digits then return digits end
      local n = tonumber(v)
      if n then return enc_num(n) end
      return enc_str(s)
    elseif t == "nil" then return nil
    end
    error("engine.log: cannot log a " .. t .. " value", 4)
  end

  local function encode(stream, rec)
    local parts, n = {}, 0
    local p = prefix[stream]
    if p then n = 1; parts[1] = p end
    for _, k in ipairs(FIRST) do
      local v = rec[k]
      if v ~= nil then
        local e = enc_value(v, 0)
        if e then n = n + 1; parts[n] = enc_key(k) .. e end
      end
    end
    local cols, cs = columns[stream], colset[stream]
    if cols then
      for _, k in ipairs(cols) do
        local v = rec[k]
        if v ~= nil then
          local e = enc_value(v, 0)
          if e then n = n + 1; parts[n] = enc_key(k) .. e end
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
        local e = enc_value(v, 0)
        if e then n = n + 1; parts[n] = enc_str(k) .. ":" .. e end
      end
    end
    return "{" .. concat(parts, ",", 1, n) .. "}\n"
  end

  local function failed(msg)
    C.lbr_ffi_fail(B, msg)
    error(msg, 0)
  end

  local function out(stream)
    local f = files[stream]
    if f then return f end
    if type(stream) ~= "string" or not find(stream, "^[%w_][%w_%-%.]*$") then
      error("engine.log: bad stream name '" .. tostring(stream) .. "' (letters, digits, _ - .)", 3)
    end
    if outdir then
      local path = outdir .. "/" .. stream .. ".log"
      local fh, err = io.open(path, "w")
      if not fh then failed("cannot open log " .. (err or path)) end
      fh:setvbuf("full", 65536)
      f = { fh = fh, path = path }
    else
      f = { fh = io.stdout, path = "standard output" }
      prefix[stream] = '"_path":' .. enc_str(stream)
    end
    files[stream] = f
    return f
  end

  function W.write(stream, rec)
    if type(rec) ~= "table" then error("engine.log(stream, record): record must be a table", 2) end
    local f = out(stream)
    local line = encode(stream, rec)
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
    columns[stream], colset[stream] = list, set
  end

  function W.flush()
    for _, f in pairs(files) do
      local ok, err = f.fh:flush()
      if not ok then failed("cannot write " .. f.path .. ": " .. tostring(err)) end
    end
  end

  function W.close()
    local errs = {}
    for s, f in pairs(files) do
      local ok, err
      if f.fh == io.stdout then ok, err = f.fh:flush() else ok, err = f.fh:close() end
      if not ok then errs[#errs + 1] = "cannot write " .. f.path .. ": " .. tostring(err) end
      files[s] = nil
    end
    if #errs > 0 then
      C.lbr_ffi_fail(B, errs[1])
      error(concat(errs, "; "), 0)
    end
  end

  W.encode = encode
  return W
end

return M
