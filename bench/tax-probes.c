// Attaches the named programs of a BPF object, says "ready" on stdout, and holds them until
// its stdin closes (then, or if it dies, the kernel drops the links). bench/tax-floor.ts runs
// one per arm: `tax-probes OBJECT PROG...`. Every other program of the object is not loaded.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[64];
	struct bpf_program *prog;
	struct bpf_object *obj;
	int n = 0, i, err;
	char buf[256];

	if (argc < 3 || argc - 2 > 64) {
		fprintf(stderr, "usage: tax-probes OBJECT PROG... (at most 64)\n");
		return 2;
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "tax-probes: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		int wanted = 0;

		for (i = 2; i < argc; i++)
			wanted |= strcmp(bpf_program__name(prog), argv[i]) == 0;
		bpf_program__set_autoload(prog, wanted);
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "tax-probes: load %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	for (i = 2; i < argc; i++) {
		prog = bpf_object__find_program_by_name(obj, argv[i]);
		if (!prog) {
			fprintf(stderr, "tax-probes: no program %s in %s\n", argv[i], argv[1]);
			return 1;
		}
		links[n] = bpf_program__attach(prog);
		if (!links[n]) {
			fprintf(stderr, "tax-probes: attach %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		n++;
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return 0;
}
