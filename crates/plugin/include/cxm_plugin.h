/*
 * cxm connector-plugin ABI, major version 1 (minor 0).
 *
 * A plugin is a shared library named libcxm_plugin_<name>.so (cxm_plugin_<name>.dll on
 * Windows) that exports:
 *
 *     const CxmPluginVTable *cxm_plugin_entry_v1(void);
 *
 * returning a pointer to a table in static storage. The host checks abi_major == 1,
 * size >= sizeof(CxmPluginVTable) and that no function pointer is NULL before calling anything
 * else. cxmd loads the library in a child process of its own (a plugin host), so a crash or a
 * hang fails one sync, not the server.
 *
 * Limits: a page holds at most PullRequest.max_events events and is at most 16 MiB encoded.
 * A plugin in C should use a protobuf library rather than encode by hand: see
 * examples/c-plugin (protobuf-c).
 *
 * Every payload is a protobuf-encoded message of package cx.v1 (proto/cx/v1/plugin.proto):
 *   info  -> PluginInfo
 *   open  <- PluginConfig                    (nothing returned on success)
 *   pull  <- PullRequest -> PullResponse
 * A function returning CXM_ERROR writes a PluginError to *out instead.
 *
 * Ownership: CxmSlice arguments are lent by the caller for the duration of the call only.
 * Every CxmBuf the plugin writes to *out is allocated by the plugin and given back to its
 * free_buf exactly once by the host (an empty buffer may have ptr == NULL). An instance set by
 * open is released by close, exactly once. The CxmHost passed to open stays valid until close;
 * its log function may be called from any thread. Calls on one instance never overlap.
 * The host never unloads a plugin library while it runs.
 */
#ifndef CXM_PLUGIN_H
#define CXM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CXM_ABI_MAJOR 1
#define CXM_ABI_MINOR 0

#define CXM_OK 0
#define CXM_ERROR 1

#define CXM_LOG_ERROR 1
#define CXM_LOG_WARN 2
#define CXM_LOG_INFO 3
#define CXM_LOG_DEBUG 4

/* Bytes lent by the caller for one call. */
typedef struct CxmSlice {
    const uint8_t *ptr;
    size_t len;
} CxmSlice;

/* Bytes allocated by the plugin; returned to its free_buf by the host. */
typedef struct CxmBuf {
    uint8_t *ptr;
    size_t len;
} CxmBuf;

/* What the host lends an instance. */
typedef struct CxmHost {
    size_t size; /* sizeof(CxmHost) as the host knows it */
    const void *ctx;
    void (*log)(const void *ctx, uint32_t level, CxmSlice message);
} CxmHost;

/* The plugin's function table. */
typedef struct CxmPluginVTable {
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t size; /* sizeof(CxmPluginVTable) as the plugin knows it */
    int32_t (*info)(CxmBuf *out);
    int32_t (*open)(CxmSlice config, const CxmHost *host, void **instance, CxmBuf *out);
    int32_t (*pull)(void *instance, CxmSlice request, CxmBuf *out);
    void (*close)(void *instance);
    void (*free_buf)(CxmBuf buf);
} CxmPluginVTable;

const CxmPluginVTable *cxm_plugin_entry_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* CXM_PLUGIN_H */
