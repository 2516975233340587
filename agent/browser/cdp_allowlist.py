"""The DevTools methods a session's clients may send: an allowlist, method by method.

Everything a session's code or its ``cdpUrl`` holder sends is hostile, and DevTools is a remote
control for the whole browser, so the router (``agent.browser.cdp_guard``) lets through only
the methods named here; any other, including every method a later Chromium adds, is refused
until someone reads what it does and adds it.

How the list was made: every method the clients we support sent during their tests was logged
at the router (Playwright for Python and Node as the code's ``page`` and over ``cdpUrl``,
Puppeteer, agent-browser, the MCP server); those are all on it (``tests/browser`` checks that
list, ``CLIENT_METHODS``). To them were added the methods of the same domains that act only on
the client's own page, worker or browser context and name no file of the machine, read off
Chromium 156's ``/json/protocol``, so that code using a CDP session for its own ends (metrics,
coverage, emulation, interception) keeps working.

Left out, on purpose:

* whole domains that reach past the session's pages: ``Tracing`` (browser-wide, and a system
  tracing backend), ``SystemInfo`` (the machine's processes and GPU), ``Tethering`` (opens a
  port on the machine), ``Extensions`` (loads code from a folder), ``PWA`` (installs apps and
  hands them files), ``FileSystem``, ``DeviceAccess``/``Cast`` (real devices and sinks),
  ``FedCm``, ``Ads``, ``BackgroundService``, ``CrashReportContext``, ``DigitalCredentials``,
  ``SmartCardEmulation`` and the deprecated ``Schema``, none of which a client we support uses;
* ``Browser.close``/``crash``/``crashGpuProcess`` (the browser down for everyone),
  ``getBrowserCommandLine`` and the histograms (the machine's paths and state),
  ``executeBrowserCommand``, ``setDockTile``, ``addPrivacySandboxEnrollmentOverride``,
  ``addMockCamera`` and the privacy-control pair;
* ``DOM.setFileInputFiles``/``getFileInfo`` (files of the machine), ``Page.crash`` and the
  screen recording pair;
* ``Memory`` but its DOM counters (the rest acts on the whole browser: pressure, purges,
  sampling of the browser process);
* ``Target.sendMessageToTarget``, ``exposeDevToolsProtocol``, ``setRemoteLocations``,
  ``getDevToolsTarget`` and ``openDevTools``: each opens a DevTools channel the router would
  not see (a nested session, one for a page's own scripts, one dialled out to a host:port).

Allowed methods are still checked (``cdp_guard``): URLs must be web URLs, file paths are
refused, downloads go to the session's folder, and attaching must be flat.
"""

from __future__ import annotations

__all__ = ["ALLOWED_METHODS"]

_BY_DOMAIN: dict[str, str] = {
    "Accessibility": (
        "disable enable getPartialAXTree getFullAXTree getRootAXNode getAXNodeAndAncestors "
        "getChildAXNodes queryAXTree"
    ),
    "Animation": (
        "disable enable getCurrentTime getPlaybackRate releaseAnimations resolveAnimation "
        "seekAnimations setPaused setPlaybackRate setTiming"
    ),
    "Audits": "getEncodedResponse disable enable checkFormsIssues",
    "Autofill": "trigger setAddresses disable enable",
    "BluetoothEmulation": (
        "enable setSimulatedCentralState disable simulatePreconnectedPeripheral "
        "simulateAdvertisement simulateGATTOperationResponse "
        "simulateCharacteristicOperationResponse simulateDescriptorOperationResponse "
        "addService removeService addCharacteristic removeCharacteristic addDescriptor "
        "removeDescriptor simulateGATTDisconnection"
    ),
    "Browser": (
        "setPermission grantPermissions resetPermissions setDownloadBehavior cancelDownload "
        "getVersion getWindowBounds getWindowForTarget setWindowBounds setContentsSize"
    ),
    "CSS": (
        "addRule collectClassNames createStyleSheet disable enable forcePseudoState "
        "forceStartingStyle getBackgroundColors getComputedStyleForNode resolveValues "
        "getLonghandProperties getInlineStylesForNode getAnimatedStylesForNode "
        "getMatchedStylesForNode getEnvironmentVariables getMediaQueries "
        "getPlatformFontsForNode getStyleSheetText getLayersForNode getLocationForSelector "
        "trackComputedStyleUpdatesForNode trackComputedStyleUpdates takeComputedStyleUpdates "
        "setEffectivePropertyValueForNode setPropertyRulePropertyName setKeyframeKey "
        "setMediaText setContainerQueryText setContainerQueryConditionText setSupportsText "
        "setNavigationText setScopeText setRuleSelector setStyleSheetText setStyleTexts "
        "startRuleUsageTracking stopRuleUsageTracking takeCoverageDelta setLocalFontsEnabled"
    ),
    "CacheStorage": (
        "deleteCache deleteEntry requestCacheNames requestCachedResponse requestEntries"
    ),
    "Console": "clearMessages disable enable",
    "DOM": (
        "collectClassNamesFromSubtree copyTo describeNode scrollIntoViewIfNeeded disable "
        "discardSearchResults enable focus getAttributes getBoxModel getContentQuads "
        "getDocument getFlattenedDocument getNodesForSubtreeByStyle getNodeForLocation "
        "getOuterHTML getRelayoutBoundary getSearchResults hideHighlight highlightNode "
        "highlightRect markUndoableState moveTo performSearch pushNodeByPathToFrontend "
        "pushNodesByBackendIdsToFrontend querySelector querySelectorAll getTopLayerElements "
        "getElementByRelation redo removeAttribute removeNode requestChildNodes requestNode "
        "resolveNode setAttributeValue setAttributesAsText setNodeStackTracesEnabled "
        "getNodeStackTraces getDetachedDomNodes setInspectedNode setNodeName setNodeValue "
        "setOuterHTML undo getFrameOwner getContainerForNode "
        "getQueryingDescendantsForContainer getAnchorElement forceShowPopover "
        "getImplicitAnchorCandidates forceShowInterest setTextMarker clearTextMarkers"
    ),
    "DOMDebugger": (
        "getEventListeners removeDOMBreakpoint removeEventListenerBreakpoint "
        "removeInstrumentationBreakpoint removeXHRBreakpoint setBreakOnCSPViolation "
        "setDOMBreakpoint setEventListenerBreakpoint setInstrumentationBreakpoint "
        "setXHRBreakpoint"
    ),
    "DOMSnapshot": "disable enable getSnapshot captureSnapshot",
    "DOMStorage": "clear disable enable getDOMStorageItems removeDOMStorageItem setDOMStorageItem",
    "Debugger": (
        "continueToLocation disable enable evaluateOnCallFrame getPossibleBreakpoints "
        "getScriptSource disassembleWasmModule nextWasmDisassemblyChunk getWasmBytecode "
        "getStackTrace pause pauseOnAsyncCall removeBreakpoint restartFrame resume "
        "searchInContent setAsyncCallStackDepth setBlackboxExecutionContexts "
        "setBlackboxPatterns setBlackboxedRanges setBreakpoint setInstrumentationBreakpoint "
        "setBreakpointByUrl setBreakpointOnFunctionCall setBreakpointsActive "
        "setPauseOnExceptions setReturnValue setScriptSource setSkipAllPauses "
        "setVariableValue stepInto stepOut stepOver"
    ),
    "DeviceOrientation": "clearDeviceOrientationOverride setDeviceOrientationOverride",
    "Emulation": (
        "canEmulate clearDeviceMetricsOverride clearGeolocationOverride resetPageScaleFactor "
        "setFocusEmulationEnabled setAutoDarkModeOverride setCPUThrottlingRate "
        "setDefaultBackgroundColorOverride setSafeAreaInsetsOverride "
        "setVirtualKeyboardGeometryOverride setDeviceMetricsOverride setDevicePostureOverride "
        "clearDevicePostureOverride setDisplayFeaturesOverride clearDisplayFeaturesOverride "
        "setScrollbarsHidden setDocumentCookieDisabled setEmitTouchEventsForMouse "
        "setEmulatedMedia setEmulatedVisionDeficiency setEmulatedOSTextScale "
        "setGeolocationOverride getOverriddenSensorInformation setSensorOverrideEnabled "
        "setSensorOverrideReadings setPressureSourceOverrideEnabled setPressureStateOverride "
        "setIdleOverride clearIdleOverride setNavigatorOverrides setPageScaleFactor "
        "setScriptExecutionDisabled setTouchEmulationEnabled setVirtualTimePolicy "
        "setLocaleOverride setTimezoneOverride setVisibleSize setDisabledImageTypes "
        "setDataSaverOverride setHardwareConcurrencyOverride setCPUPerformanceOverride "
        "setUserAgentOverride setAutomationOverride setSmallViewportHeightDifferenceOverride "
        "getScreenInfos addScreen updateScreen removeScreen setPrimaryScreen"
    ),
    "EventBreakpoints": "setInstrumentationBreakpoint removeInstrumentationBreakpoint disable",
    "Fetch": (
        "disable enable failRequest fulfillRequest continueRequest continueWithAuth "
        "continueResponse getResponseBody takeResponseBodyAsStream"
    ),
    "FindInPage": "findFirst findNext findPrev stop",
    "HeadlessExperimental": "beginFrame disable enable",
    "HeapProfiler": (
        "addInspectedHeapObject collectGarbage disable enable getHeapObjectId "
        "getObjectByHeapObjectId getSamplingProfile startSampling startTrackingHeapObjects "
        "stopSampling stopTrackingHeapObjects takeHeapSnapshot"
    ),
    "IO": "close read resolveBlob",
    "IndexedDB": (
        "clearObjectStore deleteDatabase deleteObjectStoreEntries disable enable requestData "
        "getMetadata requestDatabase requestDatabaseNames"
    ),
    "Input": (
        "dispatchDragEvent dispatchKeyEvent insertText imeSetComposition dispatchMouseEvent "
        "dispatchTouchEvent cancelDragging emulateTouchFromMouseEvent setIgnoreInputEvents "
        "setInterceptDrags synthesizePinchGesture synthesizeScrollGesture "
        "synthesizeTapGesture"
    ),
    "Inspector": "disable enable",
    "LayerTree": (
        "compositingReasons disable enable loadSnapshot makeSnapshot profileSnapshot "
        "releaseSnapshot replaySnapshot snapshotCommandLog"
    ),
    "Log": "clear disable enable startViolationsReport stopViolationsReport",
    "Media": "enable disable",
    "Memory": "getDOMCounters getDOMCountersForLeakDetection",
    "Network": (
        "canClearBrowserCache canClearBrowserCookies canEmulateNetworkConditions "
        "clearBrowserCache clearBrowserCookies deleteCookies disable emulateNetworkConditions "
        "emulateNetworkConditionsByRule overrideNetworkState enable configureDurableMessages "
        "getAllCookies getCertificate getCookies getResponseBody getRequestPostData replayXHR "
        "searchInResponseBody setBlockedURLs setBypassServiceWorker setCacheDisabled "
        "setCookie setCookies setExtraHTTPHeaders setAttachDebugStack setUserAgentOverride "
        "streamResourceContent getSecurityIsolationStatus enableReportingApi "
        "enableDeviceBoundSessions deleteDeviceBoundSession fetchSchemefulSite "
        "loadNetworkResource setCookieControls"
    ),
    "Overlay": (
        "disable enable getHighlightObjectForTest getGridHighlightObjectsForTest "
        "getSourceOrderHighlightObjectForTest hideHighlight highlightFrame highlightNode "
        "highlightQuad highlightRect highlightSourceOrder setInspectMode setShowAdHighlights "
        "setPausedInDebuggerMessage setShowDebugBorders setShowFPSCounter setShowGridOverlays "
        "setShowFlexOverlays setShowScrollSnapOverlays setShowContainerQueryOverlays "
        "setShowInspectedElementAnchor setShowPaintRects setShowLayoutShiftRegions "
        "setShowScrollBottleneckRects setShowHitTestBorders setShowWebVitals "
        "setShowViewportSizeOnResize setShowHinge setShowDisplayCutout "
        "setShowIsolatedElements setShowWindowControlsOverlay"
    ),
    "Page": (
        "addScriptToEvaluateOnLoad addScriptToEvaluateOnNewDocument bringToFront "
        "captureScreenshot captureSnapshot clearDeviceMetricsOverride "
        "clearDeviceOrientationOverride clearGeolocationOverride createIsolatedWorld "
        "deleteCookie disable enable getAppManifest getInstallabilityErrors getManifestIcons "
        "getAppId getSubApps getSiblingSubApps getAdScriptAncestry getFrameTree "
        "getLayoutMetrics getNavigationHistory resetNavigationHistory getResourceContent "
        "getResourceTree handleJavaScriptDialog navigate navigateToHistoryEntry printToPDF "
        "reload removeScriptToEvaluateOnLoad removeScriptToEvaluateOnNewDocument "
        "screencastFrameAck searchInResource setAdBlockingEnabled setBypassCSP "
        "getPermissionsPolicyState getOriginTrials setDeviceMetricsOverride "
        "setDeviceOrientationOverride setFontFamilies setFontSizes setDocumentContent "
        "setDownloadBehavior setGeolocationOverride setLifecycleEventsEnabled "
        "setTouchEmulationEnabled startScreencast stopLoading close setWebLifecycleState "
        "stopScreencast produceCompilationCache addCompilationCache clearCompilationCache "
        "setSPCTransactionMode setRPHRegistrationMode generateTestReport waitForDebugger "
        "setInterceptFileChooserDialog setPrerenderingAllowed getAnnotatedPageContent"
    ),
    "Performance": "disable enable setTimeDomain getMetrics",
    "PerformanceTimeline": "enable",
    "Preload": "enable disable",
    "Profiler": (
        "disable enable getBestEffortCoverage setSamplingInterval start startPreciseCoverage "
        "stop stopPreciseCoverage takePreciseCoverage"
    ),
    "Runtime": (
        "awaitPromise callFunctionOn compileScript disable discardConsoleEntries enable "
        "evaluate getIsolateId getHeapUsage getProperties globalLexicalScopeNames "
        "queryObjects releaseObject releaseObjectGroup runIfWaitingForDebugger runScript "
        "setAsyncCallStackDepth setCustomObjectFormatterEnabled setMaxCallStackSizeToCapture "
        "terminateExecution addBinding removeBinding getExceptionDetails"
    ),
    "Security": (
        "disable enable setIgnoreCertificateErrors handleCertificateError "
        "setOverrideCertificateErrors"
    ),
    "ServiceWorker": (
        "deliverPushMessage disable dispatchSyncEvent dispatchPeriodicSyncEvent enable "
        "setForceUpdateOnPageLoad skipWaiting startWorker stopAllWorkers stopWorker "
        "unregister updateRegistration"
    ),
    "Storage": (
        "getStorageKeyForFrame getStorageKey clearDataForOrigin clearDataForStorageKey "
        "getCookies setCookies clearCookies getUsageAndQuota overrideQuotaForOrigin "
        "trackCacheStorageForOrigin trackCacheStorageForStorageKey trackIndexedDBForOrigin "
        "trackIndexedDBForStorageKey untrackCacheStorageForOrigin "
        "untrackCacheStorageForStorageKey untrackIndexedDBForOrigin "
        "untrackIndexedDBForStorageKey getTrustTokens clearTrustTokens "
        "getPrivateVerificationTokens getPrivateVerificationTokensIssuerConfigs "
        "clearPrivateVerificationTokens deletePrivateVerificationToken "
        "setPrivateVerificationTokensTracking setStorageBucketTracking deleteStorageBucket "
        "runBounceTrackingMitigations"
    ),
    "Target": (
        "activateTarget attachToTarget attachToBrowserTarget closeTarget createBrowserContext "
        "getBrowserContexts createTarget detachFromTarget disposeBrowserContext getTargetInfo "
        "getTargets setAutoAttach autoAttachRelated setDiscoverTargets"
    ),
    "WebAudio": "enable disable getRealtimeData",
    "WebAuthn": (
        "enable disable addVirtualAuthenticator setResponseOverrideBits "
        "removeVirtualAuthenticator addCredential getCredential getCredentials "
        "removeCredential clearCredentials setUserVerified setAutomaticPresenceSimulation "
        "setCredentialProperties"
    ),
    "WebMCP": "enable disable invokeTool cancelInvocation",
}

ALLOWED_METHODS: frozenset[str] = frozenset(
    f"{domain}.{method}" for domain, methods in _BY_DOMAIN.items() for method in methods.split()
)
"""Every ``Domain.method`` a client other than the session's own connection may send."""
