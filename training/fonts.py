"""The handwriting fonts the synthetic letter data is drawn from: which, from where, at which version.

    python -m training.fonts fetch [--fonts-dir data/fonts]    # or scripts/fetch_fonts.sh
    python -m training.fonts list  [--fonts-dir data/fonts]

Three kinds, all pinned so a new machine trains on exactly the same fonts:
- outline handwriting fonts from the npm registry's `@fontsource/<family>` packages (`npm pack`; the
  tarball's Latin 400 .woff, which Pillow opens directly);
- outline handwriting fonts from Debian packages (`apt-get install`, then copied);
- single-stroke Hershey fonts from PyPI's `hershey-fonts` (in requirements.txt), drawn by
  `training.synthetic` with a varying pen, as a canvas stroke looks.

The fetched files land in a git-ignored folder with `manifest.json` (family, licence, source, version).
Fonts are data, not code: nothing here is committed except this list.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

from training.config import FONTS_DIR_ENV, fonts_dir

MANIFEST = "manifest.json"

# @fontsource families (handwriting, Latin, with real lower case), pinned. Licences are read from
# each package's package.json at fetch time and recorded in the manifest.
NPM_FAMILIES: dict[str, str] = {
    "annie-use-your-telescope": "5.3.0", "architects-daughter": "5.3.0", "caveat": "5.3.0",
    "caveat-brush": "5.3.0", "cedarville-cursive": "5.3.0", "coming-soon": "5.3.0",
    "covered-by-your-grace": "5.3.0", "crafty-girls": "5.3.0", "dawning-of-a-new-day": "5.3.0",
    "delius": "5.3.0", "edu-sa-beginner": "5.3.0", "edu-vic-wa-nt-beginner": "5.3.0", "gaegu": "5.3.0",
    "gloria-hallelujah": "5.3.0", "gochi-hand": "5.3.0", "handlee": "5.3.0", "homemade-apple": "5.3.0",
    "indie-flower": "5.3.0", "itim": "5.3.0", "just-another-hand": "5.3.0",
    "just-me-again-down-here": "5.3.0", "kalam": "5.3.0", "kite-one": "4.5.0",
    "la-belle-aurore": "5.3.0", "loved-by-the-king": "5.3.0", "mali": "5.3.0", "mynerve": "5.3.0",
    "nanum-pen-script": "5.3.0", "neucha": "5.3.0", "nothing-you-could-do": "5.3.0",
    "over-the-rainbow": "5.3.0", "pangolin": "5.3.0", "patrick-hand": "5.3.0",
    "permanent-marker": "5.3.0", "playpen-sans": "5.3.0", "reenie-beanie": "5.3.0", "rock-salt": "5.3.0",
    "schoolbell": "5.3.0", "sedgwick-ave": "5.3.0", "shadows-into-light": "5.3.0",
    "shadows-into-light-two": "5.3.0", "shantell-sans": "5.3.0", "short-stack": "5.3.0",
    "sriracha": "5.3.0", "sue-ellen-francisco": "5.3.0", "swanky-and-moo-moo": "5.3.0",
    "the-girl-next-door": "5.3.0", "waiting-for-the-sunrise": "5.3.0", "walter-turncoat": "5.3.0",
    "zeyada": "5.3.0",
}

# Debian (bookworm) handwriting font packages, pinned, and the files of each that are used.
DEBIAN_PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "fonts-breip": ("1:0.5.1-3", ("/usr/share/fonts/truetype/breip/Breip.ttf",)),
    "fonts-bwht": ("0.1-3", tuple(f"/usr/share/fonts/opentype/bwht/BecauseWe{n}-Regular.otf"
                                  for n in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize"))),
    "fonts-dkg-handwriting": ("0.17-1", ("/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
                                         "/usr/share/fonts/truetype/fifthhorseman/dkgIt.ttf")),
    "fonts-femkeklaver": ("1.0-4", ("/usr/share/fonts/truetype/femkeklaver/femkeklaver.ttf",)),
    "fonts-humor-sans": ("1.0-4", ("/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",)),
    "fonts-comic-neue": ("2.51-4", ("/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
                                    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Italic.otf")),
    "fonts-rufscript": ("010-6", ("/usr/share/fonts/truetype/rufscript/Rufscript010.ttf",)),
    "fonts-sil-andika": ("6.101-2", ("/usr/share/fonts/truetype/andika/Andika-Regular.ttf",
                                     "/usr/share/fonts/truetype/andika/Andika-Italic.ttf")),
    "fonts-kristi": ("20101220-1", ("/usr/share/fonts/truetype/kristi/Kristi.ttf",)),
    "fonts-dancingscript": ("1.2-2", ("/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",)),
    "fonts-kaushanscript": ("1.02-2.1", ("/usr/share/fonts/opentype/kaushanscript/KaushanScript-Regular.otf",)),
}

# Hershey single-stroke fonts (PyPI hershey-fonts, pinned in requirements.txt) that draw Latin
# characters the way people write them: sans, roman, script and cursive.
HERSHEY_FONTS = ("futural", "futuram", "rowmans", "rowmand", "scripts", "scriptc", "cursive", "timesi")
HERSHEY_VERSION = "2.1.0"


@dataclass(frozen=True)
class FontSpec:
    """One font the generator can draw with."""

    family: str
    kind: str  # "outline" (a font file) or "stroke" (a Hershey font, by name)
    source: str  # "npm", "debian", "pypi" or "fixture"
    version: str
    licence: str
    path: str = ""  # outline fonts: the file, relative to the fonts folder (or absolute)


def default_fonts_dir() -> Path:
    """`$HANDWRITING_FONTS_DIR`, else `data/fonts` in the project (git-ignored): `training.config.fonts_dir`."""
    return fonts_dir()


def hershey_specs() -> list[FontSpec]:
    return [FontSpec(name, "stroke", "pypi", f"hershey-fonts {HERSHEY_VERSION}", "public domain (Hershey fonts)")
            for name in HERSHEY_FONTS]


def load_manifest(fonts_dir: Path | str | None = None) -> list[FontSpec]:
    """The fetched fonts (outline fonts resolved to absolute paths) plus the Hershey fonts."""
    folder = Path(fonts_dir or default_fonts_dir())
    path = folder / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `python -m training.fonts fetch` (scripts/fetch_fonts.sh) first.")
    specs = []
    for entry in json.loads(path.read_text())["fonts"]:
        spec = FontSpec(**entry)
        if spec.kind == "outline" and not Path(spec.path).is_absolute():
            spec = FontSpec(**{**entry, "path": str(folder / spec.path)})
        specs.append(spec)
    return specs


def _fetch_npm(folder: Path, log) -> list[FontSpec]:
    specs = []
    target = folder / "npm"
    target.mkdir(parents=True, exist_ok=True)
    for family, version in NPM_FAMILIES.items():
        woff = target / f"{family}-latin-400-normal.woff"
        tarball = target / f"fontsource-{family}-{version}.tgz"
        if not tarball.exists():
            subprocess.run(["npm", "pack", f"@fontsource/{family}@{version}", "--silent"], cwd=target,
                           check=True, stdout=subprocess.DEVNULL)
        with tarfile.open(tarball) as tar:
            licence = json.load(tar.extractfile("package/package.json")).get("license", "?")
            member = tar.getmember(f"package/files/{family}-latin-400-normal.woff")
            woff.write_bytes(tar.extractfile(member).read())
        specs.append(FontSpec(family, "outline", "npm", f"@fontsource/{family}@{version}", licence,
                              str(woff.relative_to(folder))))
        log(f"npm     {family}@{version} ({licence})")
    return specs


def _debian_licence(package: str) -> str:
    copyright_file = Path("/usr/share/doc") / package / "copyright"
    if copyright_file.exists():
        for line in copyright_file.read_text(errors="replace").splitlines():
            if line.startswith("License:"):
                return line.split(":", 1)[1].strip()
    return "see the package's copyright file"


def _fetch_debian(folder: Path, log) -> list[FontSpec]:
    missing = [p for p, (_, files) in DEBIAN_PACKAGES.items() if not all(Path(f).exists() for f in files)]
    if missing:
        command = ["apt-get", "install", "-y", "--no-install-recommends"]
        command += [f"{p}={DEBIAN_PACKAGES[p][0]}" for p in missing]
        if os.geteuid() != 0:
            command = ["sudo", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    target = folder / "debian"
    target.mkdir(parents=True, exist_ok=True)
    specs = []
    for package, (version, files) in DEBIAN_PACKAGES.items():
        licence = _debian_licence(package)
        for file in files:
            copy = target / Path(file).name
            shutil.copyfile(file, copy)
            family = f"{package.removeprefix('fonts-')}:{Path(file).stem}"
            specs.append(FontSpec(family, "outline", "debian", f"{package}={version}", licence,
                                  str(copy.relative_to(folder))))
            log(f"debian  {family} ({licence})")
    return specs


def fetch(fonts_dir: Path | str | None = None, log=print) -> Path:
    """Download every pinned font into `fonts_dir` and write its manifest; returns the manifest path."""
    folder = Path(fonts_dir or default_fonts_dir())
    folder.mkdir(parents=True, exist_ok=True)
    specs = _fetch_npm(folder, log) + _fetch_debian(folder, log) + hershey_specs()
    manifest = folder / MANIFEST
    manifest.write_text(json.dumps({"fonts": [asdict(s) for s in specs]}, indent=1) + "\n")
    log(f"wrote {manifest}: {len(specs)} fonts")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["fetch", "list"])
    parser.add_argument("--fonts-dir", default=None, help=f"default: ${FONTS_DIR_ENV} or data/fonts")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        fetch(args.fonts_dir)
    else:
        for spec in load_manifest(args.fonts_dir):
            print(f"{spec.kind:8} {spec.source:7} {spec.family:40} {spec.licence:14} {spec.version}")


if __name__ == "__main__":
    sys.exit(main())
