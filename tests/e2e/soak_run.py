#!/usr/bin/env python3
"""soak_run.py STDERR_FILE GENERATOR_ARGS... -- ENGINE ARGS...

Pipes the capture tests/gen/soak.py writes (GENERATOR_ARGS: PROTO FLOWS [LINE_BYTES])
into the engine (ENGINE ARGS, which should read `-r -`), and prints the engine's peak
resident set (ru_maxrss of that process alone, from wait4, in KiB) and its exit status.
The engine's standard error goes to STDERR_FILE.
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
err_path = sys.argv[1]
cut = sys.argv.index("--")
gen_args, eng_args = sys.argv[2:cut], sys.argv[cut + 1:]
gen = subprocess.Popen([sys.executable, os.path.join(here, "..", "gen", "soak.py")] + gen_args,
                       stdout=subprocess.PIPE)
with open(err_path, "wb") as err:
    eng = subprocess.Popen(eng_args, stdin=gen.stdout, stderr=err)
gen.stdout.close()
_, status, ru = os.wait4(eng.pid, 0)
gen.wait()
print(ru.ru_maxrss, os.waitstatus_to_exitcode(status))
