// Preload (sandboxed, context-isolated): exposes the imsync API to the page as window.imsync.
// A sandboxed preload cannot require files, so this file is bundled with imsync/renderer into
// dist/preload.js by build-preload.js (`npm run build`, run by `npm start`).
const imsync = require('imsync/renderer')

imsync.initContextBridge('imsync')
