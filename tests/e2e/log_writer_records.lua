-- log_writer_records.lua - records that exercise every branch of the JSON
-- writer (lua/engine/log.lua); test_log_writer.sh compares what it writes with
-- log_writer_expected.txt, made by the first (cjson-only) writer, then changed
-- deliberately to Zeek's number layout (0.000097, 1e-7, 1e300; ts in microseconds).
local engine = require "engine"
local ffi = require "ffi"
engine.log_columns("w", { "a", "b", "n", "s" })
engine.on("engine.init", function()
  local nums = { 0, -0.0, 1, -1, 0.1 + 0.2, 1e14, 1e14 - 1, -1e14 + 1, 2 ^ 53, 2 ^ 53 + 2, -2 ^ 53,
    1e300, -1e-300, 5e-324, 1795436983.71221, 123.456, 1e-7, 12345678.9, 0 / 0, math.huge, -math.huge }
  for i, v in ipairs(nums) do engine.log("w", { n = v, i = i }) end
  local strs = { "", "plain", "a/b/c", 'q"uote', "back\\slash", "tab\tnl\nret\r", "\0\1\31\127",
    "caf\195\169", "\230\151\165\230\156\172", "bad\255\254ok\226\130\172", "half\226\130",
    string.rep("x/", 100), string.rep("y", 200), string.rep("z", 150) .. "\"", string.rep("w", 129) .. "\200" }
  for i, v in ipairs(strs) do engine.log("w", { s = v, i = i }) end
  engine.log("w", { ts = 1.5, uid = "C1", ["id.orig_h"] = "10.0.0.1", ["id.orig_p"] = 1,
    ["id.resp_h"] = "::1", ["id.resp_p"] = 2, a = true, b = false, zz = 1, ["k/ey"] = 2, ['q"k'] = 3 })
  engine.log("w", { a = {}, b = { 1, "two", { 3, { x = 4 } }, false }, n = { y = 1, x = { 0 / 0, 2 } },
    s = { [1] = 1, [2] = 2, [4] = 4 } })
  engine.log("w", { a = { [2] = "sparse" }, b = { [1.5] = "f", [10] = "ten", ["10"] = "str" }, [3] = "numkey" })
  engine.log("w", { a = ffi.new("int64_t", -5), b = ffi.new("uint64_t", 18446744073709551615ULL),
    n = ffi.new("double", 2.5), s = ffi.new("int32_t", 3), c = ffi.new("double", 0 / 0) })
  engine.log("w", { a = { 1, 0 / 0, math.huge, nil, 3 } })
  engine.log("other.stream-1", { z = 1, a = 2, m = { b = 1, a = { c = "d" } } })
  engine.log("w", {})
  -- Zeek's number layout: no exponent from 1e-6 up (0.000097), rapidjson's
  -- exponent below (1e-7); ts rounded to microseconds
  local zn = { 9.7e-05, 1.5e-06, 1e-06, -2.5e-05, 1.25e-07, 0.001, 0.000123456789 }
  for i, v in ipairs(zn) do engine.log("w", { n = v, i = i }) end
  local zt = { 1795436983.7122101, 1795436983.712210, 1795436983.0000004, 2, 0.000097, 1.5, 1e-7 }
  for i, v in ipairs(zt) do engine.log("w", { ts = v, i = i }) end
end)
