'use strict'
// The vendor's preload module name, for running the vendor's preload.js unchanged in tests.
module.exports = require('../../../../../js/renderer.js')
