-- helper.lua - shared bits of the project's specs (not a spec itself).
local T = require "engine.testing"
local H = {}
H.T = T
H.home = T.home or "."
function H.pcap(name) return H.home .. "/pcaps/" .. name end
-- the path of a capture, or nil (and the spec marked pending) when absent
function H.need_pcap(name)
  local path = H.pcap(name)
  local f = io.open(path, "rb")
  if f then f:close() return path end
  pending("capture " .. name .. " not present")
  return nil
end
function H.script(name) return H.home .. "/scripts/" .. name end

-- records of a list whose fields match all of `fields`
function H.where(list, fields)
  local r = {}
  for _, rec in ipairs(list) do
    local ok = true
    for k, v in pairs(fields) do
      if rec[k] ~= v then ok = false break end
    end
    if ok then r[#r + 1] = rec end
  end
  return r
end

-- write a one-packet-a-record pcap (Ethernet) and return its path
function H.write_pcap(frames)
  local function u32(n) return string.char(n % 256, math.floor(n / 256) % 256,
    math.floor(n / 65536) % 256, math.floor(n / 16777216) % 256) end
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(u32(0xa1b2c3d4), string.char(2, 0, 4, 0), u32(0), u32(0), u32(65535), u32(1))
  for i, frame in ipairs(frames) do
    f:write(u32(1000000000 + i), u32(0), u32(#frame), u32(#frame), frame)
  end
  f:close()
  return path
end
return H
