"""What a Lambda binary's ELF headers say about how it starts, for the bench report and the
deploy's build check (infra/scripts/sam-build): one reader of the 64-bit little-endian
headers instead of one per script."""

import struct
from dataclasses import dataclass
from pathlib import Path

ET_EXEC, ET_DYN = 2, 3  # linked at a fixed address; position-independent
EM_X86_64, EM_AARCH64 = 62, 183
PT_INTERP = 3  # names the dynamic loader the kernel maps first


@dataclass
class Start:
    """The parts of an ELF header a start depends on."""

    elf_type: int
    machine: int
    program_headers: list

    @property
    def fixed_address(self):
        """Linked at a fixed address: nothing for a loader to relocate."""
        return self.elf_type == ET_EXEC

    @property
    def statically_linked(self):
        """No dynamic loader to map and run before `main`."""
        return PT_INTERP not in self.program_headers


def read(path):
    """The start-up facts of a 64-bit little-endian ELF binary, or None for any other file."""
    with Path(path).open("rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return None
        elf_type, machine = struct.unpack_from("<HH", header, 0x10)
        phoff, = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    kinds = [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]
    return Start(elf_type, machine, kinds)
