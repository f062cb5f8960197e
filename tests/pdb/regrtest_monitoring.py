"""Run regrtest with the monitoring backend of bdb and pdb as the default.

    python tests/pdb/regrtest_monitoring.py [regrtest options] [test_pdb test_bdb]

regrtest runs test_pdb and test_bdb with the default backend, 'settrace';
this runs the same, unmodified suites a second time with every
bdb.Bdb and pdb.Pdb created without an explicit backend on 'monitoring'.
pdb.set_default_backend() covers pdb.Pdb; bdb.Bdb's backend is a keyword
argument with a default value, which is changed here, in this process only.
The tests run in this process (no -j), so that the change applies to them.
"""

import bdb
import inspect
import pdb
import sys

pdb.set_default_backend('monitoring')
params = list(inspect.signature(bdb.Bdb.__init__).parameters)
defaults = list(bdb.Bdb.__init__.__defaults__)
# The defaults belong to the last len(defaults) parameters.
defaults[params[-len(defaults):].index('backend')] = 'monitoring'
bdb.Bdb.__init__.__defaults__ = tuple(defaults)
if bdb.Bdb().backend != 'monitoring' or pdb.Pdb().backend != 'monitoring':
    sys.exit("regrtest_monitoring: could not make 'monitoring' the default")

if any(arg.startswith(('-j', '--multiprocess')) for arg in sys.argv[1:]):
    sys.exit("regrtest_monitoring: the tests must run in this process (no -j)")
if not any(not arg.startswith('-') for arg in sys.argv[1:]):
    sys.argv += ['test_pdb', 'test_bdb']

from test.libregrtest import main
main()
