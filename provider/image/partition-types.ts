// Names of GPT partition type GUIDs and MBR partition type bytes that Linux and cloud images use.

export const GPT_TYPES: Readonly<Record<string, string>> = {
  "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
  "21686148-6449-6E6F-744E-656564454649": "BIOS boot",
  "0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
  "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
  "44479540-F297-41B2-9AF7-D131D5F0458A": "Linux root (x86)",
  "B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "Linux root (ARM64)",
  "69DAD710-2CE4-4E3C-B16C-21A1D49ABED3": "Linux root (ARM)",
  "8484680C-9521-48C6-9C11-B0720656F69E": "Linux /usr (x86-64)",
  "BC13C2FF-59E6-4262-A352-B275FD6F7172": "Linux extended boot",
  "933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "Linux home",
  "3B8F8425-20E0-4F3B-907F-1A25A76F98E8": "Linux server data",
  "4D21B016-B534-45C2-A9FB-5C16E091FD2D": "Linux variable data",
  "E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
  "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
  "A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
  "CA7D7CCB-63ED-4C53-861C-1742536059CC": "Linux LUKS",
  "8DA63339-0007-60C0-C436-083AC8230908": "Linux reserved",
  "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
  "E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
  "516E7CB4-6ECF-11D6-8FF8-00022D09712B": "FreeBSD data",
  "516E7CB5-6ECF-11D6-8FF8-00022D09712B": "FreeBSD swap",
  "516E7CB6-6ECF-11D6-8FF8-00022D09712B": "FreeBSD UFS",
  "516E7CBA-6ECF-11D6-8FF8-00022D09712B": "FreeBSD ZFS",
  "83BD6B9D-7F41-11DC-BE0B-001560B84F0F": "FreeBSD boot",
  "6A898CC3-1DD2-11B2-99A6-080020736631": "Solaris /usr or ZFS",
  "48465300-0000-11AA-AA11-00306543ECAC": "Apple HFS+",
};

/** GPT types whose partitions may hold a Linux root filesystem. */
export const GPT_LINUX_DATA = new Set([
  "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
  "44479540-F297-41B2-9AF7-D131D5F0458A",
  "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
  "69DAD710-2CE4-4E3C-B16C-21A1D49ABED3",
  "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", // older tools marked Linux partitions as basic data
]);

export const MBR_TYPES: Readonly<Record<number, string>> = {
  0x01: "FAT12",
  0x04: "FAT16 <32M",
  0x05: "Extended",
  0x06: "FAT16",
  0x07: "HPFS/NTFS/exFAT",
  0x0b: "W95 FAT32",
  0x0c: "W95 FAT32 (LBA)",
  0x0e: "W95 FAT16 (LBA)",
  0x0f: "W95 Extended (LBA)",
  0x82: "Linux swap",
  0x83: "Linux",
  0x85: "Linux extended",
  0x8e: "Linux LVM",
  0xa5: "FreeBSD",
  0xa6: "OpenBSD",
  0xa9: "NetBSD",
  0xee: "GPT protective",
  0xef: "EFI System",
  0xfd: "Linux RAID autodetect",
};

export const MBR_EXTENDED = new Set([0x05, 0x0f, 0x85]);
