'use strict'
// Packaging checks: what can be proven on this machine about the npm release.
//  (a) the build for this machine (linux-x64-gnu here; the release workflow runs these
//      tests on every target it can run) loads through the napi-generated loader, both as
//      ../index.js and as `imsync/native` resolved through the package's own exports;
//  (b) `npm pack --dry-run` of the main package ships exactly the intended files;
//  (c) `npm pack --dry-run` of every npm/<platform> package ships exactly package.json,
//      README.md and its .node binary, and `napi prepublish` (what the release workflow
//      runs) keeps the root's optionalDependencies and the platform versions in step.
// Needs the build (`npx napi build --platform`).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..')
const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))

// The six targets, with what each platform package must declare.
const PLATFORMS = {
  'linux-x64-gnu': { triple: 'x86_64-unknown-linux-gnu', os: ['linux'], cpu: ['x64'], libc: ['glibc'] },
  'linux-arm64-gnu': { triple: 'aarch64-unknown-linux-gnu', os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'darwin-x64': { triple: 'x86_64-apple-darwin', os: ['darwin'], cpu: ['x64'] },
  'darwin-arm64': { triple: 'aarch64-apple-darwin', os: ['darwin'], cpu: ['arm64'] },
  'win32-x64-msvc': { triple: 'x86_64-pc-windows-msvc', os: ['win32'], cpu: ['x64'] },
  'win32-ia32-msvc': { triple: 'i686-pc-windows-msvc', os: ['win32'], cpu: ['ia32'] },
}

// What the main package publishes: its `files` list, plus what npm always adds.
const MAIN_FILES = [
  'index.js',
  'index.d.ts',
  'js/main.js',
  'js/main.d.ts',
  'js/media-stage.js',
  'js/methods.js',
  'js/renderer.js',
  'js/renderer.d.ts',
  'js/types.d.ts',
]
const ALWAYS_PACKED = ['package.json', 'README.md', 'LICENSE']

// The napi platform name of this machine, e.g. linux-x64-gnu.
function hostPlatform() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report && process.report.getReport().header.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}
const HOST = hostPlatform()
const HOST_NODE = path.join(ROOT, `imsync.${HOST}.node`)
const hostSkip = !(HOST in PLATFORMS) && `imsync has no ${HOST} build`

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imsync-packaging-${prefix}-`))
}

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
    env: { ...process.env, npm_config_loglevel: 'error', npm_config_update_notifier: 'false' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  })
}

// The files (path → size) `npm pack` would put in the tarball of the package in `dir`.
function packEntries(dir) {
  const out = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], dir)
  const json = JSON.parse(out.slice(out.indexOf('[')))
  assert.equal(json.length, 1, `npm pack in ${dir} describes one tarball`)
  return new Map(json[0].files.map((f) => [f.path.replaceAll('\\', '/'), f.size]))
}

function packedFiles(dir) {
  return [...packEntries(dir).keys()].sort()
}

function requireBuild() {
  assert.ok(
    fs.existsSync(HOST_NODE),
    `imsync.${HOST}.node is missing: run \`npx napi build --platform\` first`,
  )
}

function rmTree(dir) {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
}

async function checkEngine(binding, label) {
  assert.equal(typeof binding.Engine, 'function', `${label} exports class Engine`)
  const dbpath = tmpDir('db')
  try {
    const engine = new binding.Engine({ appkey: 'k', dbpath })
    assert.ok(engine instanceof binding.Engine, `${label}: new Engine() returns an Engine`)
    // The bundled SQLite works on this platform: opening a user creates its database.
    const opened = await engine.open('packaging-user')
    assert.equal(opened && opened.code, 0, `${label}: open() resolves code 0 (${JSON.stringify(opened)})`)
    assert.ok(fs.readdirSync(dbpath).length > 0, `${label}: open() wrote under dbpath`)
    const closed = await engine.close()
    assert.equal(closed && closed.code, 0, `${label}: close() resolves code 0`)
  } finally {
    rmTree(dbpath)
  }
}

// ---------------------------------------------------------------------------------------
// (a) loading through the generated loader

test(`(a) the ${HOST} build loads through ../index.js`, { skip: hostSkip }, async () => {
  requireBuild()
  const binding = require('../index.js')
  // The loader must have taken the local build, not some installed imsync-* package.
  const loadedNode = Object.keys(require.cache).filter((k) => k.endsWith('.node'))
  assert.ok(
    loadedNode.some((k) => fs.realpathSync(k) === fs.realpathSync(HOST_NODE)),
    `the loader loaded ${HOST_NODE} (loaded: ${loadedNode.join(', ') || 'none'})`,
  )
  await checkEngine(binding, 'require("../index.js")')
})

test('(a) `imsync/native` resolves through the package exports and loads', { skip: hostSkip }, async () => {
  requireBuild()
  // A consumer's project: node_modules/imsync is a symlink to this package.
  const app = tmpDir('app')
  const link = path.join(app, 'node_modules', 'imsync')
  try {
    fs.mkdirSync(path.join(app, 'node_modules'))
    fs.symlinkSync(ROOT, link, process.platform === 'win32' ? 'junction' : 'dir')
    const resolved = require.resolve('imsync/native', { paths: [app] })
    assert.equal(fs.realpathSync(resolved), fs.realpathSync(path.join(ROOT, 'index.js')), 'imsync/native is index.js')
    // exports must not leak internals: the .node file is not importable by subpath.
    assert.throws(() => require.resolve(`imsync/imsync.${HOST}.node`, { paths: [app] }), {
      code: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    })
    await checkEngine(require(resolved), 'require("imsync/native")')

    // And in a separate node process started in the consumer's project.
    const script =
      "const {Engine}=require('imsync/native');" +
      "const e=new Engine({appkey:'k',dbpath:process.argv[1]});" +
      "e.open('u').then((r)=>e.close().then(()=>console.log(typeof Engine, e instanceof Engine, r.code)))"
    const dbpath = tmpDir('db')
    try {
      const out = execFileSync(process.execPath, ['-e', script, dbpath], { cwd: app, encoding: 'utf8', timeout: 30_000 })
      assert.equal(out.trim(), 'function true 0')
    } finally {
      rmTree(dbpath)
    }
  } finally {
    // Remove the link itself first, so that nothing can recurse into the package.
    try {
      fs.unlinkSync(link)
    } catch {
      if (fs.existsSync(link)) fs.rmdirSync(link)
    }
    rmTree(app)
  }
})

// ---------------------------------------------------------------------------------------
// (b) the main package

test('(b) package.json files, exports and optionalDependencies', () => {
  assert.deepEqual([...rootPkg.files].sort(), [...MAIN_FILES].sort(), 'package.json `files` is exactly the intended list')
  // Every export target (the public contract: ., ./renderer, ./native) is a published file.
  const targets = []
  const collect = (v) => {
    if (typeof v === 'string') targets.push(v.replace(/^\.\//, ''))
    else if (v && typeof v === 'object') Object.values(v).forEach(collect)
  }
  for (const sub of ['.', './renderer', './native']) {
    assert.ok(rootPkg.exports && rootPkg.exports[sub], `exports has ${sub}`)
    collect(rootPkg.exports[sub])
  }
  for (const t of [...targets, rootPkg.main, rootPkg.types]) {
    assert.ok(MAIN_FILES.includes(t), `${t} (an entry point) is in files`)
  }
  assert.deepEqual(rootPkg.exports['./native'], { types: './index.d.ts', default: './index.js' })
  // What the published glue requires by relative path is published too (js/renderer.js and
  // js/main.js share js/methods.js). (index.js, the napi loader, tries optional files.)
  for (const f of MAIN_FILES.filter((x) => x.startsWith('js/') && x.endsWith('.js'))) {
    const src = fs.readFileSync(path.join(ROOT, f), 'utf8')
    for (const m of src.matchAll(/\brequire\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1]))
      if (target === 'index.js') continue
      assert.ok(MAIN_FILES.includes(target), `${f} requires ${m[1]}: ${target} is in files`)
    }
  }
  // The napi config names the six targets and the binary the platform packages carry.
  assert.equal(rootPkg.napi.binaryName, 'imsync')
  assert.deepEqual([...rootPkg.napi.targets].sort(), Object.values(PLATFORMS).map((p) => p.triple).sort())
  // The per-platform optionalDependencies are added at release time by `napi prepublish`
  // (see .github/workflows/release.yml): committed, they would name packages the registry
  // may not have yet, and `npm ci` then refuses the lock file.
  const optional = Object.keys(rootPkg.optionalDependencies || {}).filter((n) => n.startsWith('imsync-'))
  assert.deepEqual(optional, [], 'no imsync-* optionalDependencies in the committed package.json')
})

test('(b) npm pack of the main package ships exactly the intended files', () => {
  const allowed = [...MAIN_FILES, ...ALWAYS_PACKED]
  assert.ok(fs.existsSync(path.join(ROOT, 'LICENSE')), 'LICENSE exists')
  const packed = packedFiles(ROOT)
  const extra = packed.filter((f) => !allowed.includes(f))
  assert.deepEqual(extra, [], 'nothing outside the intended list is packed (sources, tests, data, binaries)')
  // Whatever of the intended list exists must be packed (js/main.js and js/renderer.js may
  // not exist yet while the glue is written; they are packed as soon as they do).
  const expected = allowed.filter((f) => fs.existsSync(path.join(ROOT, f))).sort()
  assert.deepEqual(packed, expected)
  for (const must of ['package.json', 'index.js', 'index.d.ts', 'LICENSE']) {
    assert.ok(packed.includes(must), `${must} is packed`)
  }
})

// ---------------------------------------------------------------------------------------
// (c) the platform packages

for (const [platform, want] of Object.entries(PLATFORMS)) {
  test(`(c) npm/${platform} declares the ${want.triple} package and packs exactly its files`, () => {
    const dir = path.join(ROOT, 'npm', platform)
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
    const binary = `imsync.${platform}.node`
    assert.equal(pkg.name, `imsync-${platform}`)
    assert.equal(pkg.version, rootPkg.version, 'version in step with the main package')
    assert.equal(pkg.main, binary)
    assert.deepEqual(pkg.files, [binary])
    assert.deepEqual(pkg.os, want.os)
    assert.deepEqual(pkg.cpu, want.cpu)
    assert.deepEqual(pkg.libc, want.libc, 'libc (glibc for -gnu, absent otherwise)')
    assert.equal(pkg.license, rootPkg.license)
    assert.deepEqual(pkg.engines, rootPkg.engines)
    const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8')
    assert.ok(readme.includes(`imsync-${platform}`) && readme.includes(want.triple), 'README names the package and target')

    // A copy of the package as the release job has it after `napi artifacts`: the binary in
    // place (the real build for linux-x64-gnu, a stand-in for targets this machine cannot
    // build), plus stray files that must stay out of the tarball.
    const copy = tmpDir(platform)
    try {
      for (const f of fs.readdirSync(dir)) if (!f.endsWith('.node')) fs.copyFileSync(path.join(dir, f), path.join(copy, f))
      const useReal = platform === HOST && fs.existsSync(HOST_NODE)
      if (useReal) fs.copyFileSync(HOST_NODE, path.join(copy, binary))
      else fs.writeFileSync(path.join(copy, binary), 'stand-in binary')
      fs.writeFileSync(path.join(copy, 'index.js'), '// stray')
      fs.writeFileSync(path.join(copy, 'imsync.other.node'), 'stray')
      fs.mkdirSync(path.join(copy, 'src'))
      fs.writeFileSync(path.join(copy, 'src', 'lib.rs'), '// stray')
      const entries = packEntries(copy)
      assert.deepEqual([...entries.keys()].sort(), [binary, 'README.md', 'package.json'].sort())
      if (useReal) {
        assert.equal(entries.get(binary), fs.statSync(path.join(copy, binary)).size, 'the packed .node is the whole build')
        // The package's main is the binary: requiring the package directory loads the addon.
        assert.equal(typeof require(copy).Engine, 'function', 'the platform package exports Engine')
      }
    } finally {
      rmTree(copy)
    }
  })
}

test('(c) napi prepublish keeps optionalDependencies and platform versions in step', () => {
  // What the release job does after `napi artifacts`, minus the publishing: on a copy of
  // package.json and npm/ with a bumped version and every binary in place.
  const work = tmpDir('prepublish')
  try {
    const pkg = { ...rootPkg, version: '9.8.7-rc.1' }
    fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
    for (const platform of Object.keys(PLATFORMS)) {
      const src = path.join(ROOT, 'npm', platform)
      const dst = path.join(work, 'npm', platform)
      fs.mkdirSync(dst, { recursive: true })
      for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(src, f), path.join(dst, f))
      fs.writeFileSync(path.join(dst, `imsync.${platform}.node`), 'stand-in binary')
    }
    const cliPkgPath = require.resolve('@napi-rs/cli/package.json', { paths: [ROOT] })
    const cli = path.join(path.dirname(cliPkgPath), JSON.parse(fs.readFileSync(cliPkgPath, 'utf8')).bin.napi)
    execFileSync(process.execPath, [cli, 'prepublish', '-t', 'npm', '--skip-optional-publish', '--no-gh-release'], {
      cwd: work,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GITHUB_REPOSITORY: '', npm_config_loglevel: 'error' },
      timeout: 60_000,
    })
    const after = JSON.parse(fs.readFileSync(path.join(work, 'package.json'), 'utf8'))
    const expected = Object.fromEntries(Object.keys(PLATFORMS).map((p) => [`imsync-${p}`, '9.8.7-rc.1']))
    assert.deepEqual(after.optionalDependencies, expected, 'one optionalDependency per target at the release version')
    for (const platform of Object.keys(PLATFORMS)) {
      const p = JSON.parse(fs.readFileSync(path.join(work, 'npm', platform, 'package.json'), 'utf8'))
      assert.equal(p.version, '9.8.7-rc.1', `npm/${platform} version follows the main package`)
    }
  } finally {
    rmTree(work)
  }
})
