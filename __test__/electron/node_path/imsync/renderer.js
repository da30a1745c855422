'use strict'
// `require('imsync/renderer')` for code outside the package scope (NODE_PATH in renderer children).
module.exports = require('../../../../js/renderer.js')
