/* Benchmarks of sys.monitoring's C API (make bench-capi; bench/capi/run.sh).

   1. The cost of a PyMonitoring_Fire*Event() call site when no tool
      listens: an inline test of state->active.  `fire_site` below is the
      function whose disassembly run.sh prints; the timed loop calls it
      through a volatile pointer, against the same loop calling `empty_site`.

   2. A line-coverage tool written as a native callback against the same
      tool written in Python, on the same workload in the same run: an
      emulated compiled function of LINES lines (one LINE event each, from
      C), called CALLS times; each tool adds the line number to a set.
      Reported as time ratios against the same workload with no tool.

   The embedded interpreter is the default build's (static libpython3.11.a). */

#include <Python.h>
#include <stdio.h>
#include <time.h>

#define LINES 20

static PyObject *code;
static const uint8_t line_event[] = {PY_MONITORING_EVENT_LINE};
static PyMonitoringState line_state[1];
static uint64_t line_version;

__attribute__((noinline)) int
fire_site(PyMonitoringState *state, PyObject *codelike, int32_t offset, int lineno)
{
    return PyMonitoring_FireLineEvent(state, codelike, offset, lineno);
}

__attribute__((noinline)) int
empty_site(PyMonitoringState *state, PyObject *codelike, int32_t offset, int lineno)
{
    __asm__ volatile("" ::: "memory");
    return 0;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int (*volatile site)(PyMonitoringState *, PyObject *, int32_t, int);

static double
time_sites(long n)
{
    PyMonitoringState state = {0};
    double t = now();
    for (long i = 0; i < n; i++) {
        if (site(&state, code, (int32_t)(i & 0xffff), (int)i) < 0) {
            return -1;
        }
    }
    return now() - t;
}

/* The emulated compiled function, CALLS times. */
static double
workload(long calls)
{
    double t = now();
    for (long c = 0; c < calls; c++) {
        if (PyMonitoring_EnterScope(line_state, &line_version, line_event, 1) < 0) {
            return -1;
        }
        for (int i = 0; i < LINES; i++) {
            if (PyMonitoring_FireLineEvent(&line_state[0], code, 2 * i, 10 + i) < 0) {
                return -1;
            }
        }
        PyMonitoring_ExitScope();
    }
    return now() - t;
}

static int
native_line(const PyMonitoringEvent *ev, void *data)
{
    PyObject *line = PyLong_FromLong(ev->lineno);
    if (line == NULL) {
        return -1;
    }
    int err = PySet_Add((PyObject *)data, line);
    Py_DECREF(line);
    return err;
}

static int
run(const char *source)
{
    if (PyRun_SimpleString(source) < 0) {
        fprintf(stderr, "capi_bench: failed: %s\n", source);
        return -1;
    }
    return 0;
}

static double
best_of(int runs, long calls)
{
    double best = 1e9;
    for (int r = 0; r < runs; r++) {
        double t = workload(calls);
        if (t < 0) {
            PyErr_Print();
            exit(1);
        }
        if (t < best) {
            best = t;
        }
    }
    return best;
}

int
main(int argc, char **argv)
{
    long sites = argc > 1 ? atol(argv[1]) : 200000000L;
    long calls = argc > 2 ? atol(argv[2]) : 200000L;
    int runs = 5;
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    const char *program = getenv("EMBED_PROGRAM_NAME");
    if (program) {
        PyConfig_SetBytesString(&config, &config.program_name, program);
    }
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        Py_ExitStatusException(status);
    }
    code = (PyObject *)PyCode_NewEmpty("bench.pyx", "emulated", 10);
    PyObject *main_mod = PyImport_AddModule("__main__");
    if (code == NULL || main_mod == NULL ||
        PyObject_SetAttrString(main_mod, "code", code) < 0) {
        PyErr_Print();
        return 1;
    }

    /* 1. the call site with nothing listening */
    site = empty_site;
    double t_empty = time_sites(sites);
    site = fire_site;
    double t_fire = time_sites(sites);
    site = empty_site;
    double t_empty2 = time_sites(sites);
    if (t_empty2 < t_empty) {
        t_empty = t_empty2;
    }
    printf("fire site, no tool: %.3f ns per call (empty call: %.3f ns, difference %.3f ns) "
           "over %ld calls\n", t_fire / sites * 1e9, t_empty / sites * 1e9,
           (t_fire - t_empty) / sites * 1e9, sites);

    /* 2. line coverage: no tool, Python tool, native tool; interleaved */
    if (run("import sys\n"
            "mon = sys.monitoring\n"
            "mon.use_tool_id(mon.COVERAGE_ID, 'bench')\n"
            "lines = set()\n"
            "def line(code, lineno):\n"
            "    lines.add(lineno)\n") < 0) {
        return 1;
    }
    PyObject *native_set = PySet_New(NULL);
    double t_none = 1e9, t_py = 1e9, t_native = 1e9;
    for (int round = 0; round < 3; round++) {
        double t;
        if (run("mon.set_local_events(mon.COVERAGE_ID, code, 0)\n") < 0) return 1;
        t = best_of(runs, calls);
        t_none = t < t_none ? t : t_none;

        if (run("mon.register_callback(mon.COVERAGE_ID, mon.events.LINE, line)\n"
                "mon.set_local_events(mon.COVERAGE_ID, code, mon.events.LINE)\n") < 0) return 1;
        t = best_of(runs, calls);
        t_py = t < t_py ? t : t_py;

        Py_INCREF(native_set);
        if (PyMonitoring_RegisterNativeCallback(1, PY_MONITORING_EVENT_LINE, native_line,
                                                native_set, (void (*)(void *))Py_DecRef) < 0) {
            PyErr_Print();
            return 1;
        }
        t = best_of(runs, calls);
        t_native = t < t_native ? t : t_native;
    }
    long events = calls * LINES;
    printf("line coverage, %ld LINE events fired from C (%d-line function x %ld calls), best of %d x 3:\n",
           events, LINES, calls, runs);
    printf("  no tool       %8.2f ms  %7.2f ns/event  ratio 1.00\n", t_none * 1e3,
           t_none / events * 1e9);
    printf("  Python tool   %8.2f ms  %7.2f ns/event  ratio %.2f\n", t_py * 1e3,
           t_py / events * 1e9, t_py / t_none);
    printf("  native tool   %8.2f ms  %7.2f ns/event  ratio %.2f\n", t_native * 1e3,
           t_native / events * 1e9, t_native / t_none);
    printf("  native tool is %.1fx cheaper than the Python tool (time above no tool: %.1fx)\n",
           t_py / t_native, (t_py - t_none) / (t_native - t_none));
    if (PySet_Size(native_set) != LINES) {
        fprintf(stderr, "capi_bench: the native tool saw %zd lines\n", PySet_Size(native_set));
        return 1;
    }
    Py_DECREF(native_set);
    Py_DECREF(code);
    return Py_FinalizeEx() < 0;
}
