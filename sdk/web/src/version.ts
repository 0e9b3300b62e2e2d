/** The version of Oriel's Web SDK (sent as `sdk_version=oriel-web-<version>`). */
export const version = '0.1.0';
