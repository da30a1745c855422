// The example app's renderer logic, without the DOM: a small state machine over the imsync
// API object (window.imsync in the page). renderer.js draws `chat.state` and calls these
// functions; __test__/ipc-example-app.test.js drives them in a real (stand-in) window.
// Loaded as a classic <script> it defines window.ImsyncChat; required, it exports the same.
;(function (root, factory) {
  if (typeof module === 'object' && module && module.exports) module.exports = factory()
  else root.ImsyncChat = factory()
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict'

  var PAGE_SIZE = 30

  function key(c) {
    return c.conversationType + '|' + c.targetId + '|' + (c.channelId || '')
  }

  function sameConversation(a, b) {
    return !!a && !!b && key(a) === key(b)
  }

  /** The text a message is shown with in lists and bubbles. */
  function describeMessage(m) {
    if (!m) return ''
    var c = m.content || {}
    switch (m.messageType) {
      case 'RC:TxtMsg':
        return String(c.content || '')
      case 'RC:FileMsg':
        return '[file] ' + (c.name || '')
      case 'RC:ImgMsg':
        return '[image]'
      case 'RC:RcNtf':
        return '[recalled]'
      default:
        return '[' + m.messageType + ']'
    }
  }

  function conversationView(c) {
    return {
      conversationType: c.conversationType,
      targetId: c.targetId,
      channelId: c.channelId || '',
      title: c.targetId,
      preview: describeMessage(c.latestMessage),
      time: c.latestMessage ? c.latestMessage.sentTime : c.sortTime || 0,
      unread: c.unreadMessageCount || 0,
      isTop: !!c.isTop,
    }
  }

  function messageView(m, me) {
    return {
      messageId: m.messageId,
      messageUId: m.messageUId,
      mine: m.messageDirection === 1,
      sender: m.messageDirection === 1 ? me || m.senderUserId : m.senderUserId,
      text: describeMessage(m),
      sentTime: m.sentTime,
      sentStatus: m.sentStatus,
    }
  }

  /**
   * createChat(im, { me }) → the chat controller. `im` is the imsync API object.
   * Every action resolves true on success; on failure it sets state.error and resolves false.
   */
  function createChat(im, options) {
    options = options || {}
    var me = options.me || ''
    var E = im.electronExtension
    var state = {
      conversations: [],
      current: null,
      messages: [],
      hasMore: false,
      results: null,
      connected: false,
      error: null,
    }
    var watchers = []
    var detach = []

    function changed() {
      for (var i = 0; i < watchers.length; i++) {
        try {
          watchers[i](state)
        } catch (e) {
          console.error(e)
        }
      }
    }

    function check(r, what) {
      if (r && r.code === 0) return true
      state.error = what + ' failed: ' + (r ? r.code + (r.msg ? ' ' + r.msg : '') : 'no result')
      changed()
      return false
    }

    async function loadConversations() {
      var r = await E.getConversationList(0, 100, undefined, true)
      if (!check(r, 'getConversationList')) return false
      state.conversations = r.data.map(conversationView)
      changed()
      return true
    }

    async function openConversation(conversation) {
      var c = { conversationType: conversation.conversationType, targetId: conversation.targetId, channelId: conversation.channelId || '' }
      var r = await im.getHistoryMessages(c, { timestamp: 0, count: PAGE_SIZE, order: 0 })
      if (!check(r, 'getHistoryMessages')) return false
      state.current = c
      state.messages = r.data.list.slice().reverse().map(function (m) {
        return messageView(m, me)
      })
      state.hasMore = r.data.hasMore
      state.results = null
      state.error = null
      changed()
      return true
    }

    async function loadOlder() {
      if (!state.current || !state.hasMore || !state.messages.length) return false
      var oldest = state.messages[0].sentTime
      var r = await im.getHistoryMessages(state.current, { timestamp: oldest, count: PAGE_SIZE, order: 0 })
      if (!check(r, 'getHistoryMessages')) return false
      var seen = {}
      state.messages.forEach(function (m) {
        seen[m.messageId] = true
      })
      var older = r.data.list
        .slice()
        .reverse()
        .filter(function (m) {
          return !seen[m.messageId]
        })
        .map(function (m) {
          return messageView(m, me)
        })
      state.messages = older.concat(state.messages)
      state.hasMore = r.data.hasMore
      changed()
      return true
    }

    async function startConversation(targetId) {
      targetId = String(targetId || '').trim()
      if (!targetId) return false
      return openConversation({ conversationType: im.ConversationType.PRIVATE, targetId: targetId })
    }

    /** Sends (when connected) or stores locally (insertMessage) a text in the open conversation. */
    async function sendText(text) {
      text = String(text || '')
      if (!state.current || !text.trim()) return false
      var message = new im.TextMessage({ content: text })
      var r = state.connected ? await im.sendMessage(state.current, message) : await E.insertMessage(state.current, message)
      if (!check(r, state.connected ? 'sendMessage' : 'insertMessage')) return false
      state.messages.push(messageView(r.data, me))
      changed()
      await loadConversations()
      return true
    }

    /** Stores a message as received from the peer (a local stand-in for an incoming one). */
    async function receiveText(text) {
      if (!state.current || !String(text || '').trim()) return false
      var r = await E.insertMessage(
        state.current,
        {
          messageType: im.MessageType.TEXT,
          content: { content: String(text) },
          senderUserId: state.current.targetId,
          messageDirection: im.MessageDirection.RECEIVE,
        },
        { isUnread: true },
      )
      if (!check(r, 'insertMessage')) return false
      state.messages.push(messageView(r.data, me))
      changed()
      await loadConversations()
      return true
    }

    async function deleteMessage(messageId) {
      var r = await E.deleteMessages([messageId])
      if (!check(r, 'deleteMessages')) return false
      state.messages = state.messages.filter(function (m) {
        return m.messageId !== messageId
      })
      changed()
      await loadConversations()
      return true
    }

    async function clearConversation() {
      if (!state.current) return false
      var r = await E.clearMessages(state.current)
      if (!check(r, 'clearMessages')) return false
      state.messages = []
      state.hasMore = false
      changed()
      await loadConversations()
      return true
    }

    /**
     * Searches: in the open conversation (messages) and across conversations (which ones
     * contain the keyword). state.results = { keyword, messages, count, conversations }.
     */
    async function search(keyword) {
      keyword = String(keyword || '')
      if (!keyword.trim()) {
        state.results = null
        changed()
        return true
      }
      var inConversation = state.current ? await E.searchMessages(state.current, keyword, 0, 50) : { code: 0, data: { messages: [], count: 0 } }
      if (!check(inConversation, 'searchMessages')) return false
      var across = await E.searchConversationByContent(keyword, [im.MessageType.TEXT, im.MessageType.FILE])
      if (!check(across, 'searchConversationByContent')) return false
      state.results = {
        keyword: keyword,
        count: inConversation.data.count,
        messages: inConversation.data.messages.map(function (m) {
          return messageView(m, me)
        }),
        conversations: across.data.map(conversationView),
      }
      changed()
      return true
    }

    async function connect(token) {
      var r = await im.connect(token)
      if (!check(r, 'connect')) return false
      state.connected = true
      changed()
      return true
    }

    /** Follows engine events: new messages, conversation changes, connection state. */
    function listen() {
      var Events = im.Events
      detach.push(
        im.addEventListener(Events.MESSAGES, function (event) {
          var list = (event && event.messages) || []
          var mine = list.filter(function (m) {
            return sameConversation(m, state.current)
          })
          if (mine.length) {
            state.messages = state.messages.concat(
              mine.map(function (m) {
                return messageView(m, me)
              }),
            )
            changed()
          }
          loadConversations()
        }),
      )
      detach.push(
        im.addEventListener(Events.CONVERSATION, function () {
          loadConversations()
        }),
      )
      detach.push(
        im.addEventListener(Events.CONNECTED, function () {
          state.connected = true
          changed()
        }),
      )
      detach.push(
        im.addEventListener(Events.DISCONNECT, function () {
          state.connected = false
          changed()
        }),
      )
    }

    function dispose() {
      detach.splice(0).forEach(function (off) {
        if (typeof off === 'function') off()
      })
      watchers = []
    }

    return {
      state: state,
      onChange: function (fn) {
        watchers.push(fn)
      },
      loadConversations: loadConversations,
      openConversation: openConversation,
      startConversation: startConversation,
      loadOlder: loadOlder,
      sendText: sendText,
      receiveText: receiveText,
      deleteMessage: deleteMessage,
      clearConversation: clearConversation,
      search: search,
      connect: connect,
      listen: listen,
      dispose: dispose,
    }
  }

  return {
    createChat: createChat,
    describeMessage: describeMessage,
    conversationKey: key,
    PAGE_SIZE: PAGE_SIZE,
  }
})
