// The .deb of one architecture, from a staged single executable and its native/ (package.mjs
// stages them). The Debian side lives in scripts/debian/: maintainer scripts, the sysusers file,
// the changelog (whose top entry is the package's version) and the head of the copyright file;
// the rest of the copyright file is made here from what the bundle holds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

/** dpkg's architecture names for Node's. */
export const DEB_ARCH = { x64: 'amd64', arm64: 'arm64' };

/**
 * The top entry of scripts/debian/changelog: the package's version (upstream-revision) and who
 * signs it. The upstream part must be package.json's version: a release bumps both or neither.
 */
export function debianChangelogHead(root, upstreamVersion) {
  const text = readFileSync(join(root, 'scripts/debian/changelog'), 'utf8');
  const head = /^edge-agent \(([^)]+)\) [^;]+; urgency=\w+$/m.exec(text);
  const trailer = /^ -- (.+ <[^>]+>) {2}(.+)$/m.exec(text);
  if (!head || !trailer) throw new Error('package: scripts/debian/changelog does not start with a Debian changelog entry');
  const version = head[1];
  const dash = version.lastIndexOf('-');
  if (dash < 0 || version.slice(0, dash) !== upstreamVersion) {
    throw new Error(`package: scripts/debian/changelog's top entry is ${version}; package.json is ${upstreamVersion} (add an entry ${upstreamVersion}-1)`);
  }
  return { version, maintainer: trailer[1], date: trailer[2], text };
}

/**
 * Builds `<out>/edge-agent_<version>_<arch>.deb` from `staged` (edge-agent + native/). Returns
 * its path.
 */
export function buildDeb({ root, out, arch, staged, version, maintainer, changelog, copyright, manPage }) {
  const debArch = DEB_ARCH[arch];
  const deb = join(out, `edge-agent_${version}_${debArch}.deb`);
  const tree = join(out, `deb-root-${debArch}`);
  rmSync(tree, { recursive: true, force: true });
  /** A file of the package: `from` is `{ file }` to copy or the contents. */
  const put = (rel, mode, from) => {
    const p = join(tree, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof from === 'object' && 'file' in from) copyFileSync(from.file, p);
    else writeFileSync(p, from);
    chmodSync(p, mode);
  };

  const lib = join(tree, 'usr/lib/edge-agent');
  mkdirSync(lib, { recursive: true });
  cpSync(staged, lib, { recursive: true });
  normaliseModes(lib);
  chmodSync(join(lib, 'edge-agent'), 0o755);
  mkdirSync(join(tree, 'usr/bin'), { recursive: true });
  symlinkSync('../lib/edge-agent/edge-agent', join(tree, 'usr/bin/edge-agent'));
  put('lib/systemd/system/edge-agent.service', 0o644, { file: join(root, 'config/edge-agent.service') });
  put('usr/lib/sysusers.d/edge-agent.conf', 0o644, { file: join(root, 'scripts/debian/sysusers.conf') });
  // It will hold the device key: not world-readable even before postinst gives it to the group.
  put('etc/edge-agent/config.json', 0o640, { file: join(root, 'config/edge-agent.json') });
  chmodSync(join(tree, 'etc/edge-agent'), 0o750);
  const doc = 'usr/share/doc/edge-agent';
  put(`${doc}/README.md`, 0o644, { file: join(root, 'README.md') });
  put(`${doc}/copyright`, 0o644, copyright);
  // -9 and no name or time in the header (zlib writes neither): what lintian and reproducible builds want.
  put(`${doc}/changelog.Debian.gz`, 0o644, gzipSync(changelog, { level: 9 }));
  put('usr/share/man/man1/edge-agent.1.gz', 0o644, gzipSync(manPage, { level: 9 }));
  // The tags that stay, each with why (lintian reads this file; README "Packaging" lists them too).
  put('usr/share/lintian/overrides/edge-agent', 0o644, { file: join(root, 'scripts/debian/lintian-overrides') });

  const control = join(tree, 'DEBIAN');
  mkdirSync(control, { recursive: true });
  const installedKb = Math.ceil(duBytes(tree) / 1024);
  put(
    'DEBIAN/control',
    0o644,
    [
      'Package: edge-agent',
      `Version: ${version}`,
      `Architecture: ${debArch}`,
      `Maintainer: ${maintainer}`,
      `Installed-Size: ${installedKb}`,
      // systemd: the unit, systemd-sysusers, systemd-notify (deb-systemd-invoke/-helper come with
      // init-system-helpers, which is Essential). The libraries: what the ELF files ask for.
      `Depends: ${sharedLibraryDepends(lib).join(', ')}, systemd`,
      'Section: net',
      'Priority: optional',
      'Description: industrial IoT gateway agent (Modbus/serial sensors to Azure IoT Hub)',
      ' Reads Modbus RTU/TCP and line-oriented serial sensors, keeps every reading in',
      ' a durable LevelDB buffer, runs event-time analytics in an ASA-style SQL',
      ' dialect, and forwards to Azure IoT Hub, store-and-forward across outages.',
      ' .',
      ' A single executable (Node.js 20 with the agent built in) and its native',
      ' addons; the systemd unit edge-agent.service.',
      '',
    ].join('\n'),
  );
  put('DEBIAN/conffiles', 0o644, '/etc/edge-agent/config.json\n');
  for (const s of ['postinst', 'prerm', 'postrm']) put(`DEBIAN/${s}`, 0o755, { file: join(root, 'scripts/debian', s) });
  put('DEBIAN/md5sums', 0o644, md5sums(tree));
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', tree, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(tree, { recursive: true, force: true });
  return deb;
}

/**
 * The machine-readable copyright file: scripts/debian/copyright.head, then Node.js and each npm
 * package of the bundle with the licence text it ships (read from node_modules at build time).
 */
export function copyrightFile({ root, packages, nodeVersion, nodeLicense }) {
  const paragraphs = [readFileSync(join(root, 'scripts/debian/copyright.head'), 'utf8').trimEnd()];
  paragraphs.push(
    [
      'Files: node/*',
      'Copyright: Node.js contributors and the authors of the components it bundles',
      `Comment: the Node.js ${nodeVersion} runtime that usr/lib/edge-agent/edge-agent is made from`,
      `License: Node.js-${nodeVersion}`,
      body(nodeLicense),
    ].join('\n'),
  );
  const common = new Set();
  for (const p of packages) {
    const text = licenceText(join(root, p.dir));
    const holders = text ? copyrightLines(text) : [];
    const spdx = licenceName(p.license);
    const fields = [`Files: ${p.dir}/*`, `Copyright: ${holders.length ? holders.join('\n ') : `the authors of ${p.name}`}`, `Comment: npm package ${p.name} ${p.version}`];
    if (COMMON_LICENSES[spdx]) {
      // Debian has the text: name it, once, below (lintian: copyright-file-contains-full-…-license).
      common.add(spdx);
      fields.push(`License: ${spdx}`);
    } else {
      // Each package's own notice (an MIT or ISC text carries its copyright line).
      fields.push(`License: ${`${p.name}-${p.version}-${spdx}`.replace(/\s+/g, '-')}`, body(text ?? `${p.name} ${p.version} ships no licence file; its package.json declares ${spdx}.`));
    }
    paragraphs.push(fields.join('\n'));
  }
  for (const spdx of [...common].sort()) {
    paragraphs.push(`License: ${spdx}\n On Debian systems the full text of this licence is in\n /usr/share/common-licenses/${COMMON_LICENSES[spdx]}.`);
  }
  return paragraphs.join('\n\n') + '\n';
}

/**
 * Debian's libraries for what the executable and addons link (NEEDED) at the symbol versions they
 * ask for: libc6 from the highest GLIBC_2.x, libstdc++6 from GLIBCXX_3.4.x (the GCC release that
 * brought it). dpkg-shlibdeps would need the target architecture's libraries installed.
 */
function sharedLibraryDepends(dir) {
  const elf = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (readFileSync(p).subarray(0, 4).toString('latin1') === '\x7fELF') elf.push(p);
    }
  };
  walk(dir);
  let glibc = [2, 17];
  let glibcxx = 0;
  for (const f of elf) {
    const text = readFileSync(f).toString('latin1');
    for (const m of text.matchAll(/\0GLIBC_2\.(\d+)(?:\.\d+)?\0/g)) if (Number(m[1]) > glibc[1]) glibc = [2, Number(m[1])];
    for (const m of text.matchAll(/\0GLIBCXX_3\.4\.(\d+)\0/g)) glibcxx = Math.max(glibcxx, Number(m[1]));
  }
  const GCC_OF_GLIBCXX = { 21: '5', 22: '6', 23: '7', 24: '7', 25: '8', 26: '9', 27: '9', 28: '10', 29: '11', 30: '12', 31: '13', 32: '13' };
  const gcc = GCC_OF_GLIBCXX[glibcxx];
  return [`libc6 (>= ${glibc.join('.')})`, 'libgcc-s1', gcc ? `libstdc++6 (>= ${gcc})` : 'libstdc++6'];
}

/** Where this Node keeps its LICENSE (a tarball install, a distribution's or NodeSource's package). */
export function nodeLicensePath(execPath) {
  const prefix = dirname(dirname(execPath));
  const candidates = [join(prefix, 'LICENSE'), join(prefix, 'share/doc/node/LICENSE'), '/usr/share/doc/nodejs/LICENSE'];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`package: Node's LICENSE is needed for the copyright file; looked in ${candidates.join(', ')}`);
  return found;
}

/** SPDX names whose text Debian keeps in /usr/share/common-licenses (base-files). */
const COMMON_LICENSES = { 'Apache-2.0': 'Apache-2.0', 'CC0-1.0': 'CC0-1.0', 'MPL-2.0': 'MPL-2.0', 'GPL-2.0-only': 'GPL-2', 'GPL-3.0-only': 'GPL-3', 'LGPL-2.1-only': 'LGPL-2.1', 'LGPL-3.0-only': 'LGPL-3' };

function licenceName(license) {
  if (typeof license === 'string') return license.replace(/^\((.*)\)$/, '$1').replace(/ OR /g, ' or ').replace(/ AND /g, ' and ');
  return 'unspecified';
}

function licenceText(dir) {
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt|markdown))?$/i.test(f));
  return file ? readFileSync(join(dir, file), 'utf8') : undefined;
}

function copyrightLines(text) {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(copyright\s*(\(c\)|©|\d)|\(c\)\s*\d)/i.test(l))
    .map((l) => l.replace(/^copyright\s*/i, '').trim());
  return [...new Set(lines)].slice(0, 10);
}

/** A DEP-5 field body: each line indented, an empty line as " .". */
function body(text) {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, '    ')
    .trimEnd()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`))
    .join('\n');
}

/** Files 0644 and directories 0755, whatever umask or npm's tarballs left (the executable is set after). */
function normaliseModes(dir) {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) normaliseModes(p);
    else if (e.isFile()) chmodSync(p, 0o644);
  }
}

function md5sums(tree) {
  const lines = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const rel = relative(tree, p);
      if (rel === 'DEBIAN') continue;
      if (e.isDirectory()) walk(p);
      else if (lstatSync(p).isFile()) lines.push(`${createHash('md5').update(readFileSync(p)).digest('hex')}  ${rel}`);
    }
  };
  walk(tree);
  return lines.join('\n') + '\n';
}

function duBytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += duBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}
