# Shared build settings.  Warnings are errors, always.
CC		?= cc
# every program links the base; only bridged-ssh links libssh (and so
# libcrypto), only bridged and bridgectl SQLite: a library a process
# does not use still costs it its relocated data
PKGS_BASE	 = libbsd-overlay libevent jansson libseccomp libmd
PKGS		 = $(PKGS_BASE) libssh sqlite3
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS_BASE	:= $(shell pkg-config --libs $(PKGS_BASE) 2>/dev/null)
LIBS_SSH	:= $(shell pkg-config --libs libssh 2>/dev/null)
LIBS_SQLITE	:= $(shell pkg-config --libs sqlite3 2>/dev/null)
WARNINGS	 = -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual \
		   -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
		   -Wno-unused-parameter -Werror
CFLAGS		?= -O2 -g
CFLAGS		+= $(WARNINGS) -D_GNU_SOURCE $(PKG_CFLAGS)
LDLIBS		+= $(PKG_LIBS)
YACC		 = bison -y -Wno-yacc
