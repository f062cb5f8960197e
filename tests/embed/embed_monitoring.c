/* An application embedding the fork through libpython: it starts the
   interpreter, registers a monitoring tool whose callbacks are native C
   functions (PyMonitoring_RegisterNativeCallback), runs Python code, also
   emulates a function of its own with the Fire API, and checks the events
   its tool received.  Built twice by tests/capi/run.sh: against the installed
   shared library (pkg-config python-3.11-embed) and against the static
   libpython3.11.a of the default build.

   Exit status 0 and "embed: OK" on success. */

#include <Python.h>
#include <stdio.h>
#include <string.h>

#define TOOL 2
#define MAX_SEEN 64

typedef struct {
    int event;
    int32_t offset;
    int lineno;
    long value;         /* PY_RETURN: the value, if an int */
    int in_square;      /* the event is about square()'s code */
} seen_event;

static seen_event seen[MAX_SEEN];
static int n_seen;
static PyObject *square_code;       /* borrowed from __main__ */
static int frees;

static int
record(const PyMonitoringEvent *ev, void *data)
{
    if (n_seen == MAX_SEEN) {
        PyErr_SetString(PyExc_RuntimeError, "too many events");
        return -1;
    }
    seen_event *s = &seen[n_seen++];
    s->event = ev->event;
    s->offset = ev->offset;
    s->lineno = ev->lineno;
    s->value = (ev->arg != NULL && PyLong_Check(ev->arg)) ? PyLong_AsLong(ev->arg) : -1;
    s->in_square = ev->code == square_code;
    (void)data;
    return 0;
}

static void
free_data(void *data)
{
    frees++;
}

static int
fail(const char *what)
{
    fprintf(stderr, "embed: FAILED: %s\n", what);
    if (PyErr_Occurred()) {
        PyErr_Print();
    }
    return 1;
}

static int
check(void)
{
    static const char source[] =
        "import sys\n"
        "def square(x):\n"
        "    return x * x\n"
        "mon = sys.monitoring\n"
        "mon.use_tool_id(2, 'embedder')\n"
        "mon.set_local_events(2, square.__code__, mon.events.PY_START | mon.events.PY_RETURN)\n";
    if (PyRun_SimpleString(source) < 0) {
        return fail("setup code");
    }
    PyObject *main = PyImport_AddModule("__main__");            /* borrowed */
    PyObject *square = main ? PyObject_GetAttrString(main, "square") : NULL;
    if (square == NULL) {
        return fail("square");
    }
    square_code = PyObject_GetAttrString(square, "__code__");
    Py_DECREF(square);
    if (square_code == NULL) {
        return fail("square.__code__");
    }
    Py_DECREF(square_code);     /* __main__.square keeps it alive */

    if (PyMonitoring_RegisterNativeCallback(TOOL, PY_MONITORING_EVENT_PY_START,
                                            record, NULL, free_data) < 0 ||
        PyMonitoring_RegisterNativeCallback(TOOL, PY_MONITORING_EVENT_PY_RETURN,
                                            record, NULL, free_data) < 0 ||
        PyMonitoring_RegisterNativeCallback(TOOL, PY_MONITORING_EVENT_LINE,
                                            record, NULL, free_data) < 0) {
        return fail("PyMonitoring_RegisterNativeCallback");
    }
    if (PyRun_SimpleString("for i in range(3):\n    square(i)\n") < 0) {
        return fail("running square()");
    }
    if (n_seen != 6) {
        fprintf(stderr, "embed: %d events\n", n_seen);
        return fail("expected 6 events from square()");
    }
    for (int i = 0; i < 3; i++) {
        seen_event *start = &seen[2 * i], *ret = &seen[2 * i + 1];
        if (start->event != PY_MONITORING_EVENT_PY_START || !start->in_square ||
            start->offset != 0) {
            return fail("PY_START of square()");
        }
        if (ret->event != PY_MONITORING_EVENT_PY_RETURN || !ret->in_square ||
            ret->value != i * i || ret->offset <= 0) {
            return fail("PY_RETURN of square()");
        }
    }

    /* A function of the application's own, reported to the same tool. */
    PyObject *code = (PyObject *)PyCode_NewEmpty("embedder.c", "native_function", 100);
    if (code == NULL) {
        return fail("PyCode_NewEmpty");
    }
    PyObject *mon = PySys_GetObject("monitoring");                 /* borrowed */
    PyObject *r = mon ? PyObject_CallMethod(mon, "set_local_events", "iOi", TOOL, code,
                                            (1 << PY_MONITORING_EVENT_LINE)) : NULL;
    if (r == NULL) {
        Py_DECREF(code);
        return fail("set_local_events on the application's code object");
    }
    Py_DECREF(r);
    static const uint8_t events[] = {PY_MONITORING_EVENT_LINE, PY_MONITORING_EVENT_PY_START};
    PyMonitoringState state[2] = {{0}};
    uint64_t version = 0;
    n_seen = 0;
    if (PyMonitoring_EnterScope(state, &version, events, 2) < 0 ||
        PyMonitoring_FirePyStartEvent(&state[1], code, 0) < 0 ||
        PyMonitoring_FireLineEvent(&state[0], code, 2, 101) < 0 ||
        PyMonitoring_FireLineEvent(&state[0], code, 4, 102) < 0 ||
        PyMonitoring_ExitScope() < 0) {
        Py_DECREF(code);
        return fail("firing events");
    }
    Py_DECREF(code);
    /* PY_START is not set for this code object: only the two lines. */
    if (n_seen != 2 || seen[0].event != PY_MONITORING_EVENT_LINE || seen[0].lineno != 101 ||
        seen[0].offset != 2 || seen[1].lineno != 102 || seen[1].offset != 4) {
        fprintf(stderr, "embed: %d events\n", n_seen);
        return fail("LINE events of the application's function");
    }
    if (PyRun_SimpleString("sys.monitoring.free_tool_id(2)\n") < 0) {
        return fail("free_tool_id");
    }
    if (frees != 3) {
        return fail("free_data not called once per callback");
    }
    return 0;
}

int
main(int argc, char **argv)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    /* EMBED_PROGRAM_NAME: the python binary of a build tree, so that the
       interpreter finds its standard library there. */
    const char *program = getenv("EMBED_PROGRAM_NAME");
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name,
                                              program ? program : argv[0]);
    if (PyStatus_Exception(status)) {
        Py_ExitStatusException(status);
    }
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        Py_ExitStatusException(status);
    }
    int err = check();
    if (Py_FinalizeEx() < 0) {
        err = 1;
    }
    if (err == 0) {
        printf("embed: OK (%s)\n", Py_GetVersion());
    }
    return err;
}
