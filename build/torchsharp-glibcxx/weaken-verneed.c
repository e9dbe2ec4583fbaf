/* Marks one symbol-version requirement of an ELF64 shared object weak (VER_FLG_WEAK in .gnu.version_r), so
 * the dynamic loader accepts the object when no loaded library defines that version.
 * Usage: weaken-verneed FILE VERSION  (exit 0: marked or already weak; 1: error; 3: requirement not found) */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s FILE VERSION\n", argv[0]); return 1; }
    FILE *f = fopen(argv[1], "r+b");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END); long size = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(size);
    if (!buf || fread(buf, 1, size, f) != (size_t)size) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) { fprintf(stderr, "%s is not ELF64\n", argv[1]); return 1; }
    Elf64_Shdr *sh = (Elf64_Shdr *)(buf + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_GNU_verneed) continue;
        const char *strtab = (const char *)(buf + sh[sh[i].sh_link].sh_offset);
        unsigned long off = sh[i].sh_offset;
        for (;;) {
            Elf64_Verneed *vn = (Elf64_Verneed *)(buf + off);
            unsigned long aoff = off + vn->vn_aux;
            for (int a = 0; a < vn->vn_cnt; a++) {
                Elf64_Vernaux *vna = (Elf64_Vernaux *)(buf + aoff);
                if (strcmp(strtab + vna->vna_name, argv[2]) == 0) {
                    if (!(vna->vna_flags & VER_FLG_WEAK)) {
                        vna->vna_flags |= VER_FLG_WEAK;
                        fseek(f, (long)aoff, SEEK_SET);
                        fwrite(vna, sizeof *vna, 1, f);
                    }
                    fclose(f);
                    return 0;
                }
                if (!vna->vna_next) break;
                aoff += vna->vna_next;
            }
            if (!vn->vn_next) break;
            off += vn->vn_next;
        }
    }
    fclose(f);
    return 3;
}
