-- engine/sandbox.lua - what scripts may call (docs/lua.md, "Sandbox").
--
-- Applied once by the bridge (engine/lua_bridge.c) after lua/engine.lua is
-- loaded and before any script runs, to the one global table every script
-- shares. With lua.unsafe=false (the default):
--   * os.execute, os.remove, os.rename, os.tmpname, os.setlocale, io.popen,
--     package.loadlib and C modules not already loaded are refused;
--   * io.open / io.output write only inside the log folder (-o DIR); reading
--     is allowed;
--   * require "ffi" is refused to scripts (the engine's own files under
--     <home>/lua and <home>/scripts still get it); `debug` keeps only
--     traceback and getinfo; load, loadstring, loadfile and dofile read text,
--     never bytecode;
--   * os.exit(code) is refused.
-- With lua.unsafe=true everything is there, and os.exit(code) stops the run
-- cleanly: the capture is no longer read, open flows end, engine.done runs,
-- the logs are closed, and the process exits with the code.
-- In both modes, the loops of Lua files that scripts load (-s, -e, require of a
-- file outside <home>) run interpreted unless lua.jit_scripts=true, so that the
-- watchdog can stop a runaway loop (a hook does not run inside compiled code);
-- the rest of their code is compiled as usual, but for recursion (below).
--
-- The sandbox keeps scripts from doing by mistake or by habit what a traffic
-- engine's policy should not do; it is not a boundary against a script written
-- to break out of LuaJIT.

local bit = require "bit"
local load, setfenv, getfenv = load, setfenv, getfenv -- before the sandbox replaces load
local ok_vmdef, vmdef = pcall(require, "jit.vmdef")
local function op(name)
  if not ok_vmdef then return -1 end local i = vmdef.bcnames:find(name .. (" "):rep(6 - #name), 1, true); return (i - 1) / 6 end
local map = { [op("FORL")] = op("IFORL"), [op("ITERL")] = op("IITERL"), [op("LOOP")] = op("ILOOP") }
local byte, char, sub = string.byte, string.char, string.sub
local function uleb(s, i)
  local v, sh = 0, 0
  while true do
    local b = byte(s, i); i = i + 1
    v = v + bit.lshift(bit.band(b, 127), sh)
    if b < 128 then return v, i end
    sh = sh + 7
  end
end
-- interp_loops(fn): fn with every loop of it and of the functions it defines
-- made interpreter-only (FORL, ITERL, LOOP become IFORL, IITERL, ILOOP: what
-- jit.off does to loops), through a bytecode dump and load of the engine's
-- own making. The functions themselves are still compiled (as traces starting
-- at their entry); a loop is never a trace, so the watchdog's hook always gets
-- in. Returns fn unchanged when the dump cannot be read.
local function interp_loops(f)
  if not ok_vmdef then return f end
  local s = string.dump(f)
  if sub(s, 1, 3) ~= "\27LJ" or byte(s, 4) ~= 2 then return f end
  local i = 5
  local flags; flags, i = uleb(s, i)
  local strip = bit.band(flags, 2) ~= 0
  if not strip then local n; n, i = uleb(s, i); i = i + n end
  local out = { sub(s, 1, i - 1) }
  local n = 0
  while true do
    local len, j = uleb(s, i)
    if len == 0 then out[#out + 1] = sub(s, i); break end
    local p = j
    local pend = j + len
    p = p + 4 -- flags numparams framesize sizeuv
    local _; _, p = uleb(s, p); _, p = uleb(s, p)
    local nbc; nbc, p = uleb(s, p)
    if not strip then local dbg; dbg, p = uleb(s, p); if dbg > 0 then _, p = uleb(s, p); _, p = uleb(s, p) end end
    out[#out + 1] = sub(s, i, p - 1)
    for k = 0, nbc - 1 do
      local q = p + 4 * k
      local o = byte(s, q)
      local m = map[o]
      if m then out[#out + 1] = char(m) .. sub(s, q + 1, q + 3); n = n + 1 else out[#out + 1] = sub(s, q, q + 3) end
    end
    out[#out + 1] = sub(s, p + 4 * nbc, pend - 1)
    i = pend
  end
  local g = load(table.concat(out), nil, "b")
  if not g then return f end
  setfenv(g, getfenv(f))
  return g, n
end

return function(opts)
  local home = opts.home
  local G = _G
  local os, io, package, debug, jit = G.os, G.io, G.package, G.debug, G.jit
  local error, type, tostring, format = G.error, G.type, G.tostring, string.format
  local getinfo, load, loadfile = debug.getinfo, G.load, G.loadfile

  local function source_of(level)
    local info = getinfo(level + 1, "S")
    return info and info.source or ""
  end
  local function engine_file(src)
    return src:sub(1, #home + 2) == "@" .. home .. "/"
  end

  -- scripts' own Lua files run interpreted (see above)
  if opts.jit_off then
    -- A function that calls itself (or a ring of functions that call each
    -- other) in tail position is a loop without a loop instruction: LuaJIT
    -- links such a trace to itself once the recursion was unrolled
    -- `recunroll` times (default 2), and the hook never runs again. With the
    -- bound out of reach, recording goes on unrolling until the trace is too
    -- long and aborts; the function then runs interpreted and the watchdog
    -- stops it. Only recursion loses compilation (no shipped script recurses
    -- on a hot path).
    local ok_opt, jopt = pcall(require, "jit.opt")
    if ok_opt then jopt.start("recunroll=1000000000") end
    local searchers = package.loaders
    local lua_searcher = searchers[2]
    searchers[2] = function(name)
      local f = lua_searcher(name)
      if type(f) == "function" then
        local info = getinfo(f, "S")
        if info and not engine_file(info.source) then return interp_loops(f) end
      end
      return f
    end
  end

  -- for the bridge, which prepares the chunks of -s and -e the same way
  G.package.loaded["engine.sandbox.prepare"] = opts.jit_off and interp_loops or function(f) return f end

  local real_exit = os.exit
  if opts.unsafe then
    os.exit = function(code)
      if code == nil then code = 0 end
      if opts.exit then return opts.exit(code) end
      return real_exit(code)
    end
    return
  end

  local function refuse(what)
    return function()
      error(format("%s is not available to scripts (the sandbox: --set lua.unsafe=true lifts it)",
        what), 2)
    end
  end
  for _, name in ipairs { "execute", "remove", "rename", "tmpname", "setlocale", "exit" } do
    os[name] = refuse("os." .. name)
  end
  io.popen = refuse("io.popen")
  package.loadlib = refuse("package.loadlib")

  -- writing: only inside the log folder
  local outdir, within = opts.outdir, opts.path_within
  local real_open, real_output = io.open, io.output
  local function check_write(path, what)
    if type(path) ~= "string" then return end
    if not outdir then
      error(format("%s('%s') for writing: scripts may write only inside the log folder, and this run "
        .. "has none (-o DIR; the sandbox: --set lua.unsafe=true lifts it)", what, path), 3)
    end
    if not within(path, outdir) then
      error(format("%s('%s') for writing: scripts may write only inside the log folder %s "
        .. "(the sandbox: --set lua.unsafe=true lifts it)", what, path, outdir), 3)
    end
  end
  io.open = function(path, mode)
    if type(mode) == "string" and mode:find("[wa+]") then check_write(path, "io.open") end
    return real_open(path, mode)
  end
  io.output = function(f)
    if type(f) == "string" then check_write(f, "io.output") end
    return real_output(f)
  end

  -- modules: no ffi for scripts, no C modules beyond those already loaded; the
  -- engine's own files (under <home>) still get ffi
  local real_require = G.require
  local loaded = package.loaded
  local kept = { ffi = loaded.ffi, debug = loaded.debug, ["jit.util"] = loaded["jit.util"] }
  G.require = function(name)
    local k = kept[name]
    if k ~= nil or name == "jit.util" then
      if engine_file(source_of(2)) then return k or real_require(name) end
      error(format("require '%s' is not available to scripts (the sandbox: --set lua.unsafe=true "
        .. "lifts it)", tostring(name)), 2)
    end
    return real_require(name)
  end
  loaded.ffi, loaded.debug, loaded["jit.util"] = nil, nil, nil
  package.preload.ffi = nil
  package.cpath = ""
  local searchers = package.loaders
  for i = #searchers, 3, -1 do searchers[i] = nil end -- the C and all-in-one searchers

  G.debug = { traceback = debug.traceback, getinfo = getinfo }

  -- text chunks only: bytecode can break the VM's memory safety
  G.load = function(chunk, name, mode, env)
    if mode ~= nil and mode ~= "t" then error("load: only text chunks (mode \"t\") in the sandbox", 2) end
    return load(chunk, name, "t", env)
  end
  G.loadstring = function(s, name) return load(s, name, "t") end
  G.loadfile = function(path, mode, env)
    if mode ~= nil and mode ~= "t" then error("loadfile: only text chunks (mode \"t\") in the sandbox", 2) end
    return loadfile(path, "t", env)
  end
  G.dofile = function(path)
    local f, err = loadfile(path, "t")
    if not f then error(err, 2) end
    return f()
  end
end
