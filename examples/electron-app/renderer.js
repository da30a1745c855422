// The example app's page script: draws ImsyncChat's state and wires the controls. All imsync
// access goes through window.imsync (exposed by the preload); the logic is in chat.js.
;(function () {
  'use strict'
  var im = window.imsync
  var chat = window.ImsyncChat.createChat(im, { me: 'me' })
  var $ = function (id) {
    return document.getElementById(id)
  }

  function el(tag, className, text) {
    var node = document.createElement(tag)
    if (className) node.className = className
    if (text !== undefined) node.textContent = text
    return node
  }

  function time(t) {
    return t ? new Date(t).toLocaleString() : ''
  }

  function render(state) {
    var list = $('conversations')
    list.textContent = ''
    state.conversations.forEach(function (c) {
      var li = el('li', state.current && window.ImsyncChat.conversationKey(c) === window.ImsyncChat.conversationKey(state.current) ? 'current' : '')
      if (c.unread) li.appendChild(el('span', 'unread', String(c.unread)))
      li.appendChild(el('div', 'title', (c.isTop ? '📌 ' : '') + c.title))
      li.appendChild(el('div', 'preview', c.preview))
      li.addEventListener('click', function () {
        chat.openConversation(c)
      })
      list.appendChild(li)
    })

    $('title').textContent = state.current ? state.current.targetId : 'Pick a conversation'
    $('composer').hidden = !state.current
    $('clear').hidden = !state.current
    $('older').hidden = !state.hasMore
    $('status').textContent = state.connected ? 'connected' : 'local'
    $('error').hidden = !state.error
    $('error').textContent = state.error || ''

    var messages = $('messages')
    messages.textContent = ''
    state.messages.forEach(function (m) {
      var li = el('li', m.mine ? 'mine' : '')
      var bubble = el('div', 'bubble')
      bubble.appendChild(el('div', 'text', m.text))
      bubble.appendChild(el('div', 'meta', m.sender + ' · ' + time(m.sentTime)))
      bubble.addEventListener('dblclick', function () {
        if (window.confirm('Delete this message?')) chat.deleteMessage(m.messageId)
      })
      li.appendChild(bubble)
      messages.appendChild(li)
    })
    messages.scrollTop = messages.scrollHeight

    var results = $('results')
    results.hidden = !state.results
    results.textContent = ''
    if (state.results) {
      results.appendChild(el('div', 'meta', state.results.count + ' match(es) for "' + state.results.keyword + '" here; in ' + state.results.conversations.length + ' conversation(s)'))
      state.results.messages.forEach(function (m) {
        results.appendChild(el('div', '', m.sender + ': ' + m.text))
      })
      state.results.conversations.forEach(function (c) {
        var a = el('a', '', '→ ' + c.title)
        a.href = '#'
        a.addEventListener('click', function (e) {
          e.preventDefault()
          chat.openConversation(c)
        })
        results.appendChild(el('div')).appendChild(a)
      })
    }
  }

  chat.onChange(render)

  $('new-conversation').addEventListener('submit', function (e) {
    e.preventDefault()
    chat.startConversation($('new-target').value).then(function () {
      $('new-target').value = ''
    })
  })
  $('search-form').addEventListener('submit', function (e) {
    e.preventDefault()
    chat.search($('search').value)
  })
  $('composer').addEventListener('submit', function (e) {
    e.preventDefault()
    var text = $('text').value
    chat.sendText(text).then(function (ok) {
      if (ok) $('text').value = ''
    })
  })
  $('receive').addEventListener('click', function () {
    var text = $('text').value
    chat.receiveText(text).then(function (ok) {
      if (ok) $('text').value = ''
    })
  })
  $('older').addEventListener('click', function () {
    chat.loadOlder()
  })
  $('clear').addEventListener('click', function () {
    if (window.confirm('Delete every message of this conversation?')) chat.clearConversation()
  })
  // Another window may have changed the database: refresh when this one gets the focus.
  window.addEventListener('focus', function () {
    chat.loadConversations()
    if (chat.state.current) chat.openConversation(chat.state.current)
  })

  chat.listen()
  chat.loadConversations()
  render(chat.state)
})()
