/* Time to main, for Benchmarks/run.sh: an LD_PRELOAD library that wraps __libc_start_main and,
 * when the program's main is entered (after the kernel's exec, the dynamic loader's mapping and
 * relocation, and every library's constructors), appends to $MAIN_CLOCK_OUT the seconds since
 * $MAIN_CLOCK_T0 (a CLOCK_REALTIME stamp such as bash's $EPOCHREALTIME, taken in the forked child
 * just before exec). The program itself runs unchanged.
 *
 *   gcc -O2 -shared -fPIC Benchmarks/main-clock.c -o main-clock.so -ldl
 *   ( export MAIN_CLOCK_T0=$EPOCHREALTIME MAIN_CLOCK_OUT=t; LD_PRELOAD=./main-clock.so exec tulga --help )
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*main_fn)(int, char **, char **);
typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

static main_fn real_main;

static int clocked_main(int argc, char **argv, char **envp) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const char *t0 = getenv("MAIN_CLOCK_T0"), *out = getenv("MAIN_CLOCK_OUT");
    if (t0 && out) {
        FILE *f = fopen(out, "a");
        if (f) {
            fprintf(f, "%.6f\n", (double)now.tv_sec + now.tv_nsec / 1e9 - strtod(t0, NULL));
            fclose(f);
        }
    }
    return real_main(argc, argv, envp);
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end) {
    start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return real(clocked_main, argc, argv, init, fini, rtld_fini, stack_end);
}
