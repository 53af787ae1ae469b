-- engine/util.lua - helpers of the engine module: cidr sets, base64,
-- watch-lists. Plain Lua.
local ffi = require "ffi"
local bit = require "bit"

local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift
local byte, char, sub, find, format = string.byte, string.char, string.sub, string.find, string.format
local concat, sort = table.concat, table.sort
local floor = math.floor

local M = {}

-- ---- addresses ------------------------------------------------------------------

local function parse_v4(s)
  local a, b, c, d = s:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return char(a, b, c, d)
end

local function groups(part)
  local g = {}
  if part == "" then return g end
  for x in (part .. ":"):gmatch("([^:]*):") do
    if not x:match("^%x%x?%x?%x?$") then return nil end
    g[#g + 1] = tonumber(x, 16)
  end
  return g
end

local function parse_v6(s)
  s = s:gsub("%%.*$", "") -- zone id
  local head, v4 = s:match("^(.*:)(%d+%.%d+%.%d+%.%d+)$")
  if v4 then
    local b = parse_v4(v4)
    if not b then return nil end
    local b1, b2, b3, b4 = byte(b, 1, 4)
    s = head .. format("%x:%x", b1 * 256 + b2, b3 * 256 + b4)
  end
  local dbl = find(s, "::", 1, true)
  local left, right
  if dbl then
    left, right = sub(s, 1, dbl - 1), sub(s, dbl + 2)
    if find(right, "::", 1, true) then return nil end
  else
    left = s
  end
  local L = groups(left)
  local R = right and groups(right) or {}
  if not L or not R then return nil end
  local g = {}
  if dbl then
    if #L + #R > 7 then return nil end
    for i = 1, #L do g[#g + 1] = L[i] end
    for _ = 1, 8 - #L - #R do g[#g + 1] = 0 end
    for i = 1, #R do g[#g + 1] = R[i] end
  else
    if #L ~= 8 then return nil end
    g = L
  end
  local out = {}
  for i = 1, 8 do
    out[2 * i - 1] = char(rshift(g[i], 8))
    out[2 * i] = char(band(g[i], 255))
  end
  return concat(out)
end

local V4MAPPED = string.rep("\0", 10) .. "\255\255"

-- address text -> raw bytes (4 or 16), IPv4-mapped IPv6 as IPv4
local function parse_addr(s)
  if type(s) ~= "string" then return nil end
  local b = parse_v4(s)
  if b then return b end
  if not find(s, ":", 1, true) then return nil end
  b = parse_v6(s)
  if b and sub(b, 1, 12) == V4MAPPED then return sub(b, 13) end
  return b
end
M.parse_addr = parse_addr

local function prefix_key(b, len)
  local nbytes, rem = floor(len / 8), len % 8
  local k = sub(b, 1, nbytes)
  if rem > 0 then
    k = k .. char(band(byte(b, nbytes + 1), band(lshift(0xff, 8 - rem), 0xff)))
  end
  return k
end

-- a set of networks: for each address family, one hash table per prefix
-- length present; contains() probes each length (at most 33 or 129 probes)
local cidr_mt = {}
cidr_mt.__index = cidr_mt

function cidr_mt.contains(set, a)
  local b = parse_addr(a)
  if not b then return false end
  local fam = set[#b]
  if not fam then return false end
  for _, len in ipairs(fam.lens) do
    if fam.t[len][prefix_key(b, len)] then return true end
  end
  return false
end

function cidr_mt.add(set, net)
  if type(net) ~= "string" then error("engine.cidr: network must be a string", 3) end
  local a, l = net:match("^%s*([^/%s]+)/(%d+)%s*$")
  if not a then a = net:match("^%s*(%S+)%s*$") end
  local b = a and parse_addr(a)
  if not b then error("engine.cidr: bad network '" .. net .. "'", 3) end
  local max = #b * 8
  local len = l and tonumber(l) or max
  if l and #b == 4 and find(a, ":", 1, true) then len = len - 96 end -- ::ffff:a.b.c.d/104
  if len < 0 or len > max then error("engine.cidr: bad prefix length in '" .. net .. "'", 3) end
  local fam = set[#b]
  if not fam then
    fam = { lens = {}, t = {} }
    set[#b] = fam
  end
  if not fam.t[len] then
    fam.t[len] = {}
    fam.lens[#fam.lens + 1] = len
    sort(fam.lens, function(x, y) return x > y end)
  end
  fam.t[len][prefix_key(b, len)] = true
end

function M.cidr(list)
  if type(list) == "string" then list = { list } end
  if type(list) ~= "table" then error("engine.cidr(list): list must be a table of networks", 2) end
  local set = setmetatable({}, cidr_mt)
  for _, net in ipairs(list) do cidr_mt.add(set, net) end
  return set
end

-- ---- base64 -------------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local ENC, DEC = {}, {}
for i = 1, 64 do
  ENC[i - 1] = sub(B64, i, i)
  DEC[byte(B64, i)] = i - 1
end
DEC[byte("-")] = 62 -- URL-safe alphabet too
DEC[byte("_")] = 63

function M.b64encode(s)
  if type(s) ~= "string" then error("engine.b64encode(s): s must be a string", 2) end
  local out, n = {}, #s
  for i = 1, n - 2, 3 do
    local a, b, c = byte(s, i, i + 2)
    local v = a * 65536 + b * 256 + c
    out[#out + 1] = ENC[rshift(v, 18)] .. ENC[band(rshift(v, 12), 63)] ..
      ENC[band(rshift(v, 6), 63)] .. ENC[band(v, 63)]
  end
  local r = n % 3
  if r == 1 then
    local v = byte(s, n) * 65536
    out[#out + 1] = ENC[rshift(v, 18)] .. ENC[band(rshift(v, 12), 63)] .. "=="
  elseif r == 2 then
    local v = byte(s, n - 1) * 65536 + byte(s, n) * 256
    out[#out + 1] = ENC[rshift(v, 18)] .. ENC[band(rshift(v, 12), 63)] .. ENC[band(rshift(v, 6), 63)] .. "="
  end
  return concat(out)
end

-- white space is ignored; returns nil and a message on other bad input
function M.b64decode(s)
  if type(s) ~= "string" then error("engine.b64decode(s): s must be a string", 2) end
  local out, v, bits = {}, 0, 0
  local pad = false
  for i = 1, #s do
    local c = byte(s, i)
    local d = DEC[c]
    if d then
      if pad then return nil, "invalid base64: data after padding" end
      v = bor(lshift(band(v, 0xffff), 6), d)
      bits = bits + 6
      if bits >= 8 then
        bits = bits - 8
        out[#out + 1] = char(band(rshift(v, bits), 255))
      end
    elseif c == 61 then -- '='
      pad = true
    elseif not (c == 32 or c == 9 or c == 10 or c == 13) then
      return nil, format("invalid base64 character at %d", i)
    end
  end
  return concat(out)
end


-- ---- watch-lists --------------------------------------------------------------------------

function M.load_list(path)
  if type(path) ~= "string" then error("engine.load_list(path): path must be a string", 2) end
  local f, err = io.open(path, "r")
  if not f then error("engine.load_list: " .. err, 2) end
  local t = {}
  for line in f:lines() do
    line = line:match("^%s*(.-)%s*$")
    if line ~= "" and sub(line, 1, 1) ~= "#" then t[#t + 1] = line end
  end
  f:close()
  return t
end

return M
