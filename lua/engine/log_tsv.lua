-- engine/log_tsv.lua - Zeek's tab-separated log format (--set log.format=tsv), so
-- that zeek-cut and the parsers of Zeek's ASCII logs read the logs.
--
-- A file starts with Zeek's header (#separator \x09, #set_separator ,,
-- #empty_field (empty), #unset_field -, #path, #open, #fields, #types) and
-- ends with #close. The columns are fixed by the stream's first record: ts,
-- uid and id.* when it has them, the declared columns (engine.log_columns),
-- then its other keys sorted. A later record's key that is not a column is
-- dropped (said once per stream and key on standard error); a missing value
-- is "-". Types come from engine.log_types, else from the known names below,
-- else from the first record's value: string, count (int when negative),
-- double, bool, set[string] / vector[count] / vector[double] for lists; a map
-- is written as its JSON text (type string).
-- Values as Zeek's Ascii formatter: time and interval with six decimals
-- ("%.6f"), double with up to six (trailing zeros dropped, ".0" kept for a
-- whole number), bool T/F, an empty string or list "(empty)", a string that is
-- exactly "-" or "(empty)" has its first byte escaped; tab, newline, other
-- control bytes, "\" and (inside a list) "," are written \xNN; invalid UTF-8
-- bytes are written \xNN as in the JSON logs.
local ffi = require "ffi"

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local format, gsub, byte, sub, concat, sort = string.format, string.gsub, string.byte, string.sub,
  table.concat, table.sort
local floor, huge = math.floor, math.huge

local FIRST = { "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p" }
local IS_FIRST = {}
for _, k in ipairs(FIRST) do IS_FIRST[k] = true end

-- columns whose type a first value cannot tell (a whole number of seconds)
local KNOWN = {
  ts = "time", uid = "string", ["id.orig_h"] = "addr", ["id.resp_h"] = "addr",
  ["id.orig_p"] = "port", ["id.resp_p"] = "port", duration = "interval", rtt = "interval",
}

local M = {}

local function date(t) return os.date("%Y-%m-%d-%H-%M-%S", t) end
M.date = date

local function escape(s, in_list, C, sbufp)
  if s:find("[%z\1-\31\127\\]") or (in_list and s:find(",", 1, true)) then
    s = gsub(s, in_list and "[%z\1-\31\127\\,]" or "[%z\1-\31\127\\]",
      function(c) return format("\\x%02x", byte(c)) end)
  end
  if s:find("[\128-\255]") then
    local n = C.lbr_ffi_utf8_check(s, #s)
    if n >= 0 then
      n = tonumber(n)
      if n > sbufp.len then
        sbufp.len = n < 4096 and 4096 or n
        sbufp.buf = ffi.new("uint8_t[?]", sbufp.len)
      end
      s = ffi.string(sbufp.buf, C.lbr_ffi_utf8_sanitize(s, #s, sbufp.buf))
    end
  end
  return s
end

local function is_list(t)
  return #t > 0 or next(t) == nil
end

local function infer(v)
  local t = type(v)
  if t == "boolean" then return "bool" end
  if t == "number" then
    if v == floor(v) and v > -9007199254740992 and v < 9007199254740992 then
      return v < 0 and "int" or "count"
    end
    return "double"
  end
  if t == "cdata" then
    local s = tostring(v)
    if s:match("^%-%d+LL$") then return "int" end
    if s:match("^%d+U?LL$") then return "count" end
    return "double"
  end
  if t == "table" then
    if not is_list(v) then return "string" end
    local e = v[1]
    if e == nil then return "set[string]" end
    local et = infer(e)
    if et == "string" then return "set[string]" end
    return "vector[" .. et .. "]"
  end
  return "string"
end

-- opts: fh, path, stream, columns (declared list or nil), types (map or nil),
-- json (function(v) -> JSON text), C, warn (function(msg))
function M.new(opts)
  local fh, C, warn, json = opts.fh, opts.C, opts.warn, opts.json
  local sbufp = { buf = nil, len = 0 }
  local T = {}
  local cols, ctype, colset, dropped
  local n

  local function num(v, ty)
    if type(v) == "cdata" then
      local s = tostring(v)
      local d = s:match("^(%-?%d+)U?LL$")
      if d then return d end
      v = tonumber(v)
      if not v then return "-" end
    end
    if v ~= v or v == huge or v == -huge then return "-" end
    if ty == "time" or ty == "interval" then return format("%.6f", v) end
    if ty == "double" then
      local s = format("%.6f", v)
      local k = #s
      while byte(s, k) == 48 do k = k - 1 end
      if byte(s, k) == 46 then return sub(s, 1, k) .. "0" end
      return sub(s, 1, k)
    end
    if v == floor(v) then return format("%d", v) end
    return format("%.6f", v)
  end

  local function value(v, ty, in_list)
    local t = type(v)
    if v == nil then return "-" end
    if t == "string" then
      if v == "" then return "(empty)" end
      if not in_list and (v == "-" or v == "(empty)") then
        return format("\\x%02x", byte(v)) .. escape(sub(v, 2), false, C, sbufp)
      end
      return escape(v, in_list, C, sbufp)
    end
    if t == "number" or t == "cdata" then
      local et = ty and ty:match("^%a+%[(%a+)%]$") or ty
      return num(v, et)
    end
    if t == "boolean" then return v and "T" or "F" end
    if t == "table" then
      if not is_list(v) then return escape(json(v), in_list, C, sbufp) end
      if #v == 0 then return "(empty)" end
      local parts = {}
      for i = 1, #v do
        local e = v[i]
        parts[i] = e == nil and "-" or value(e, ty, true)
      end
      return concat(parts, ",")
    end
    return escape(tostring(v), in_list, C, sbufp)
  end

  local function header(rec)
    cols, ctype, colset, dropped = {}, {}, {}, {}
    for _, k in ipairs(FIRST) do
      if rec[k] ~= nil then cols[#cols + 1] = k end
    end
    for _, k in ipairs(opts.columns or {}) do
      if not IS_FIRST[k] then cols[#cols + 1] = k end
    end
    for _, k in ipairs(cols) do colset[k] = true end
    local rest = {}
    for k in pairs(rec) do
      k = tostring(k)
      if not colset[k] then rest[#rest + 1] = k end
    end
    sort(rest)
    for _, k in ipairs(rest) do cols[#cols + 1] = k; colset[k] = true end
    local types = opts.types or {}
    for i, k in ipairs(cols) do
      ctype[i] = types[k] or KNOWN[k] or (rec[k] ~= nil and infer(rec[k])) or "string"
    end
    n = #cols
    local names = {}
    for i, k in ipairs(cols) do names[i] = escape(k, false, C, sbufp) end
    return concat({
      "#separator \\x09",
      "#set_separator\t,",
      "#empty_field\t(empty)",
      "#unset_field\t-",
      "#path\t" .. opts.stream,
      "#open\t" .. date(),
      "#fields\t" .. concat(names, "\t"),
      "#types\t" .. concat(ctype, "\t"),
    }, "\n") .. "\n"
  end

  function T.write(rec)
    local out = {}
    if not cols then out[1] = header(rec) end
    for k in pairs(rec) do
      local ks = tostring(k)
      if not colset[ks] and not dropped[ks] and rec[k] ~= nil then
        dropped[ks] = true
        warn(format("log.format=tsv: %s: field '%s' is not a column of the header (first record); dropped",
          opts.path, ks))
      end
    end
    local f = {}
    for i = 1, n do
      local k = cols[i]
      local v = rec[k]
      if v == nil and tonumber(k) then v = rec[tonumber(k)] end
      f[i] = value(v, ctype[i], false)
    end
    out[#out + 1] = concat(f, "\t")
    out[#out + 1] = "\n"
    return fh:write(concat(out))
  end

  function T.footer()
    if not cols then return true end
    return fh:write("#close\t" .. date() .. "\n")
  end

  return T
end

return M
