-- summary.lua - busted output handler for tests/run.sh: busted's plain
-- terminal output (failures with the spec's file:line), then one closing line
-- "N passed, M failed, K skipped" that the test runner adds up. Errors (a spec
-- that raises, a spec file that does not load) count as failed.
--   engine test -o tests/spec/summary.lua tests/spec
return function(options)
  local busted = require "busted"
  local handler = require "busted.outputHandlers.plainTerminal"(options)
  busted.subscribe({ "suite", "end" }, function()
    io.write(string.format("%d passed, %d failed, %d skipped\n", handler.successesCount,
      handler.failuresCount + handler.errorsCount, handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
