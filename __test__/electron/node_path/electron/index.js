'use strict'
// Resolves `require('electron')` to the test stand-in in renderer child processes (NODE_PATH).
module.exports = require('../../index.js')
