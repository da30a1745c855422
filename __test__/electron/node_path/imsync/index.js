'use strict'
// `require('imsync')` for code outside the package scope (NODE_PATH in renderer children).
module.exports = require('../../../../js/main.js')
